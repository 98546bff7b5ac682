"""Every game behind one call: ``make_env`` (one game) and ``make_vec_env`` (N in parallel).

Both return observations of ``(4, 84, 84) uint8`` for pixel games (``(N, 4, 84, 84)`` for
vector envs) and the raw state for ``CartPole``. ``mode="train"`` makes a lost life a terminal
and clips rewards to their sign; ``mode="eval"`` does neither, so reported scores are real.
Every game reports its real score in ``info["episode_score"]`` when it ends.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import gymnasium as gym

from envs.atari import NOOP_MAX, STICKY_ACTION_PROBABILITY, make_atari_env, rom_id
from envs.catalog import PIXEL_GAME_CLASSES, GameSpec, UnknownGameError, all_games, resolve_game
from envs.episode import ClipReward, EpisodeStatistics, EpisodeTimeLimit, LifeLossTerminal
from envs.pixels import PixelPipeline
from envs.snapshot import GameStateError, from_checkpoint, to_checkpoint
from envs.vector import SerialVectorEnv, VectorPipeline, make_atari_vector_env
from envs.worker_priority import threads_started_by, without_wakeup_preemption

Mode = Literal["train", "eval"]
MODES = ("train", "eval")


def envs_for_machine(spec: GameSpec, cores: int | None = None) -> int:
    """How many parallel envs ``--num-envs auto`` gives a game on a machine with ``cores``
    (default: this one's): an Atari game one per core and at least 4, since ale-py's native
    vector env runs its pipeline in C++ threads (it reaches raw ALE speed from 8 envs even on
    2 cores, ``bench/env_throughput.py``); our pygame games and CartPole one, since they step
    at tens of thousands of frames a second and the network, not the game, sets the pace."""
    import os

    cores = cores or os.cpu_count() or 1
    return max(4, cores) if spec.family == "atari" else 1


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")


def make_game(
    spec: GameSpec,
    *,
    render_mode: str | None = None,
    sticky_actions: bool = False,
    noop_max: int = NOOP_MAX,
    fire_reset: bool = True,
) -> gym.Env:
    """The game with its observation pipeline and time limit, but real rewards and no life loss."""
    if spec.family == "state":
        # the bare env: gym.make's checking wrappers hold no game state, and the time limit is ours
        pipeline = gym.make(spec.gym_id, render_mode=render_mode).unwrapped
    elif spec.family == "atari":
        pipeline = make_atari_env(
            spec.name,
            render_mode=render_mode,
            sticky_actions=sticky_actions,
            noop_max=noop_max,
            fire_reset=fire_reset,
            frame_skip=spec.frame_skip,
        )
    else:
        game = PIXEL_GAME_CLASSES[spec.name](render_mode=render_mode)
        pipeline = PixelPipeline(game, frame_skip=spec.frame_skip, max_pool=spec.max_pool)
    # The cap counts agent steps after the reset no-ops, as ale-py's native vector env does.
    return EpisodeTimeLimit(pipeline, max_episode_steps=spec.max_episode_steps)


def _with_time_limit(spec: GameSpec, max_episode_steps: int | None) -> GameSpec:
    if max_episode_steps is None:
        return spec
    if max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be at least 1, got {max_episode_steps}")
    return dataclasses.replace(spec, max_episode_steps=max_episode_steps)


def make_env(
    game_id: str,
    *,
    mode: Mode = "train",
    seed: int | None = None,
    render_mode: str | None = None,
    sticky_actions: bool = False,
    noop_max: int = NOOP_MAX,
    fire_reset: bool = True,
    max_episode_steps: int | None = None,
) -> gym.Env:
    """One game with the DeepMind pipeline.

    Args:
        game_id: ``Pong``, ``breakout``, ``ALE/Pong-v5``, ``FlappyBird``, ``CartPole``...
        mode: ``train`` (life loss ends the training episode, rewards clipped) or ``eval``.
        seed: seeds the first ``reset()`` (and the action space) when given.
        render_mode: ``rgb_array`` for true-colour frames, ``human`` for a window.
        sticky_actions: repeat the previous action with probability 0.25 (Atari; off as in
            the Nature paper).
        noop_max: up to this many no-ops at reset (Atari).
        fire_reset: press FIRE at reset for games that wait for it (Atari).
        max_episode_steps: agent steps before a game is truncated (default: the game's own).
    """
    _check_mode(mode)
    spec = _with_time_limit(resolve_game(game_id), max_episode_steps)
    env = make_game(
        spec, render_mode=render_mode, sticky_actions=sticky_actions, noop_max=noop_max, fire_reset=fire_reset
    )
    env = EpisodeStatistics(env)
    if mode == "train":
        if spec.family == "atari":
            env = LifeLossTerminal(env)
        env = ClipReward(env)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def _make_game_thunk(spec: GameSpec, sticky_actions: bool):
    def thunk() -> gym.Env:
        return make_game(spec, sticky_actions=sticky_actions)

    return thunk


def make_vec_env(
    game_id: str,
    num_envs: int,
    *,
    mode: Mode = "train",
    sticky_actions: bool = False,
    asynchronous: bool | None = None,
    num_threads: int = 0,
    max_episode_steps: int | None = None,
    native_atari: bool | None = None,
) -> VectorPipeline:
    """``num_envs`` copies of a game stepped together; see ``envs/vector.py`` for the contract.

    Atari games run in ale-py's native C++ vector env (its threads do the whole pipeline)
    when ``native_atari``, the default from 2 envs; a single Atari game runs our Python
    pipeline in a ``SerialVectorEnv`` instead, which is a little faster for one env
    (``bench/env_throughput.py``) and can save its game for an exact resume. Other games run
    in a ``SerialVectorEnv`` too, or in gymnasium's subprocess vector env when
    ``asynchronous`` (the default for more than one env of a pixel game).
    """
    _check_mode(mode)
    if num_envs < 1:
        raise ValueError(f"num_envs must be at least 1, got {num_envs}")
    spec = _with_time_limit(resolve_game(game_id), max_episode_steps)
    if native_atari is None:
        native_atari = num_envs > 1
    workers: list[int] = []  # the threads or processes that step the games
    if spec.family == "atari" and native_atari:
        vector, workers = threads_started_by(
            lambda: make_atari_vector_env(
                rom_id(spec.name),
                num_envs,
                repeat_action_probability=STICKY_ACTION_PROBABILITY if sticky_actions else 0.0,
                noop_max=NOOP_MAX,
                fire_reset=True,
                frame_skip=spec.frame_skip,
                max_episode_frames=spec.max_episode_steps * spec.frame_skip,
                num_threads=num_threads,
            )
        )
    else:
        if asynchronous is None:
            asynchronous = num_envs > 1 and spec.pixels
        thunks = [_make_game_thunk(spec, sticky_actions) for _ in range(num_envs)]
        if asynchronous:
            vector = gym.vector.AsyncVectorEnv(thunks, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
            workers = [process.pid for process in vector.processes]
        else:
            vector = SerialVectorEnv(thunks)
    without_wakeup_preemption(workers)  # see envs/worker_priority.py
    return VectorPipeline(vector, clip_rewards=mode == "train", life_loss_terminal=mode == "train")


def action_names(game_id: str) -> list[str]:
    """What each action of a game does (``NOOP``, ``FIRE``, ``UP``...), by action number."""
    env = make_game(resolve_game(game_id))
    try:
        if hasattr(env.unwrapped, "get_action_meanings"):
            return list(env.unwrapped.get_action_meanings())
        return [str(action) for action in range(env.action_space.n)]
    finally:
        env.close()


def list_games() -> list[str]:
    """Every playable game's canonical name."""
    return list(all_games())


__all__ = [
    "GameSpec",
    "GameStateError",
    "UnknownGameError",
    "action_names",
    "envs_for_machine",
    "from_checkpoint",
    "list_games",
    "make_env",
    "make_game",
    "make_vec_env",
    "resolve_game",
    "to_checkpoint",
]
