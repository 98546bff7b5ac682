"""Vectorized envs for training: one contract over ale-py's native ``AtariVectorEnv`` and
gymnasium's vector envs.

The contract of ``VectorPipeline.step`` (gymnasium 1.x "next step" autoreset):

* ``terminated[i]``: the transition into this observation has no future value (game over,
  or in train mode a lost life). ``truncated[i]``: the game was cut by its time limit; the
  transition *is* bootstrapped.
* ``info["first"][i]``: this observation is the first of a new game. The action sent for
  env ``i`` on this step was ignored and its reward is 0: **the step belongs to no
  transition**. A training loop starts a new episode stream for env ``i`` here instead of
  storing a transition, so no stored transition ever spans two games.
* ``info["episode_done"][i]``: a game ended on this step; ``info["episode_score"][i]`` and
  ``info["episode_length"][i]`` then hold its real, unclipped score and its agent steps.

A lost life in train mode sets ``terminated`` but the game goes on, so the next step is not
``first``: only a game over (``episode_done``) is followed by a reset step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from envs.episode import ScoreBook, clip_rewards, lives_lost
from envs.snapshot import game_state, set_game_state


class SerialVectorEnv(gym.vector.VectorEnv):
    """Games stepped one after another in this process, in next-step autoreset mode, like
    gymnasium's ``SyncVectorEnv``, but able to say exactly where every game stands:
    ``get_state()`` / ``set_state()`` (each game's own state, and which games reset on the
    next step), for an exact resume of training."""

    metadata: dict[str, Any] = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}  # noqa: RUF012

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]]) -> None:
        self.envs = [make() for make in env_fns]
        self.num_envs = len(self.envs)
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._resets_next_step = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        seeds = [None] * self.num_envs if seed is None else [seed + index for index in range(self.num_envs)]
        observations, infos = [], {}
        for index, (env, env_seed) in enumerate(zip(self.envs, seeds)):
            observation, info = env.reset(seed=env_seed, options=options)
            observations.append(observation)
            infos = self._add_info(infos, info, index)
        self._resets_next_step[:] = False
        return np.stack(observations), infos

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        observations, infos = [], {}
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        for index, (env, action) in enumerate(zip(self.envs, actions)):
            if self._resets_next_step[index]:
                observation, info = env.reset()
            else:
                observation, rewards[index], terminated[index], truncated[index], info = env.step(action)
            observations.append(observation)
            infos = self._add_info(infos, info, index)
        self._resets_next_step = terminated | truncated
        return np.stack(observations), rewards, terminated, truncated, infos

    def get_state(self) -> dict[str, Any]:
        return {"games": [game_state(env) for env in self.envs], "resets_next_step": self._resets_next_step.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        for env, saved in zip(self.envs, state["games"], strict=True):
            set_game_state(env, saved)
        self._resets_next_step[:] = state["resets_next_step"]

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()


class VectorPipeline(gym.vector.VectorWrapper):
    """Episode bookkeeping, life-loss terminals and reward clipping for a vector env (the
    rules of ``envs/episode.py``).

    Args:
        env: a vector env in next-step autoreset mode whose rewards are the real game rewards.
        clip_rewards: clip rewards to their sign (train mode).
        life_loss_terminal: end the training episode when ``info["lives"]`` drops (train mode).
    """

    def __init__(self, env: gym.vector.VectorEnv, *, clip_rewards: bool, life_loss_terminal: bool) -> None:
        super().__init__(env)
        self.clip_rewards = clip_rewards
        self.life_loss_terminal = life_loss_terminal
        self._game_over = np.zeros(self.num_envs, dtype=bool)
        self._book = ScoreBook(self.num_envs)
        self._lives = np.zeros(self.num_envs, dtype=np.int64)
        self._pending_actions: np.ndarray | None = None
        # a step received (``receive_observations``) whose episode rules have not run yet, with its ``first``
        self._received: tuple[Any, ...] | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._received = None  # (new games: the rules of a step of the old ones no longer apply)
        if self._pending_actions is not None:
            self.recv()  # a step in flight ends before the games reset
        obs, info = self.env.reset(seed=seed, options=options)
        self._game_over[:] = False
        self._book.start()
        self._lives[:] = info.get("lives", 0)
        return obs, {**info, "first": np.ones(self.num_envs, dtype=bool)}

    @property
    def steps_in_background(self) -> bool:
        """Whether ``send`` returns while the games step: ale-py's native vector env steps
        them in its C++ threads (``send``/``recv``), gymnasium's subprocess vector env in its
        processes (``step_async``/``step_wait``). A ``SerialVectorEnv`` steps them in ``recv``."""
        return not isinstance(self.env, SerialVectorEnv)

    def send(self, actions: np.ndarray) -> None:
        """Starts a step of every game; ``recv`` returns what ``step`` would. Between the two
        the caller may do other work (the learner's updates) while the games step. The next
        step may be sent as soon as ``receive_observations`` has returned, before ``finish_step``."""
        if self._pending_actions is not None:
            raise RuntimeError("send() twice without recv()")
        self._pending_actions = np.asarray(actions, dtype=np.int64)
        if isinstance(self.env, gym.vector.AsyncVectorEnv):
            self.env.step_async(self._pending_actions)
        elif self.steps_in_background:
            self.env.send(self._pending_actions)

    def receive_observations(self) -> tuple[np.ndarray, np.ndarray]:
        """``recv`` in two halves, for a caller that chooses its next actions from the
        observations alone: this one waits for the step and returns its observations and
        ``first`` (which of them begin a new game, known before the step), so the next step can
        be sent while ``finish_step`` applies the episode rules and returns what ``recv`` would."""
        if self._pending_actions is None:
            raise RuntimeError("recv() without send()")
        if self._received is not None:
            raise RuntimeError("receive_observations() twice without finish_step()")
        actions, self._pending_actions = self._pending_actions, None
        if isinstance(self.env, gym.vector.AsyncVectorEnv):
            result = self.env.step_wait()
        elif self.steps_in_background:
            result = self.env.recv()
        else:
            result = self.env.step(actions)
        first = self._game_over.copy()
        self._received = (*result, first)
        return result[0], first

    def finish_step(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """The episode rules applied to the step ``receive_observations`` returned; what
        ``recv`` returns."""
        if self._received is None:
            raise RuntimeError("finish_step() without receive_observations()")
        received, self._received = self._received, None
        return self._after_step(*received)

    def recv(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        self.receive_observations()
        return self.finish_step()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        self.send(actions)
        return self.recv()

    def _after_step(
        self,
        obs: np.ndarray,
        reward: Any,
        terminated: Any,
        truncated: Any,
        info: dict[str, Any],
        first: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """The episode rules applied to one raw vector step (``first``: the games that began
        with it, where the step before ended one)."""
        playing = ~first
        reward = np.asarray(reward, dtype=np.float32)
        terminated = np.asarray(terminated, dtype=bool) & playing
        truncated = np.asarray(truncated, dtype=bool) & playing
        game_over = terminated | truncated

        self._book.start(first)
        self._book.record(reward, playing)
        episode_score, episode_length = self._book.finished(game_over)
        if "lives" in info:
            lives = np.asarray(info["lives"], dtype=np.int64)
            if self.life_loss_terminal:
                terminated = terminated | (playing & lives_lost(self._lives, lives))
            self._lives = lives
        if self.clip_rewards:
            reward = clip_rewards(reward)
        self._game_over = game_over
        info = {
            **info,
            "first": first,
            "episode_done": game_over,
            "episode_score": episode_score,
            "episode_length": episode_length,
        }
        return obs, reward, terminated, truncated, info

    def close(self, **kwargs: Any) -> None:
        """Closes the games, after collecting a step still in flight (an error between
        ``send`` and ``recv`` must not leave ale-py's threads waiting on it)."""
        self._received = None
        if self._pending_actions is not None:
            with contextlib.suppress(Exception):  # closing anyway; the error that led here is the one to report
                self.recv()
        super().close(**kwargs)

    @property
    def saves_state(self) -> bool:
        """Whether ``get_state()`` can capture the games in progress (``SerialVectorEnv``
        only: ale-py's native vector env and subprocess envs keep their games to themselves)."""
        return isinstance(self.env, SerialVectorEnv)

    def get_state(self) -> dict[str, Any] | None:
        """Where every game stands, or ``None`` where the env below cannot say."""
        if not self.saves_state:
            return None
        return {
            "env": self.env.get_state(),
            "game_over": self._game_over.copy(),
            "lives": self._lives.copy(),
            "scores": self._book.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Puts every game back where ``get_state`` found it (after a ``reset()``)."""
        self.env.set_state(state["env"])
        self._game_over[:] = state["game_over"]
        self._lives[:] = state["lives"]
        self._book.set_state(state["scores"])


def make_atari_vector_env(
    rom: str,
    num_envs: int,
    *,
    repeat_action_probability: float,
    noop_max: int,
    fire_reset: bool,
    frame_skip: int,
    max_episode_frames: int,
    num_threads: int = 0,
) -> gym.vector.VectorEnv:
    """ale-py's C++ vector env with the DeepMind pipeline, real rewards and no life loss
    (``VectorPipeline`` adds both per mode)."""
    from ale_py.vector_env import AtariVectorEnv

    return AtariVectorEnv(
        rom,
        num_envs,
        num_threads=num_threads,
        frameskip=frame_skip,
        maxpool=True,
        noop_max=noop_max,
        use_fire_reset=fire_reset,
        episodic_life=False,
        life_loss_info=False,
        reward_clipping=False,
        max_num_frames_per_episode=max_episode_frames,
        repeat_action_probability=repeat_action_probability,
        autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP,
    )
