"""Atari 2600 games through ale-py, with the DeepMind pipeline.

The single env is built here from ale-py's frame-by-frame env; the vector env is ale-py's
native ``AtariVectorEnv``, whose C++ threads run the same pipeline (see ``envs/vector.py``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import ale_py
import gymnasium as gym
import numpy as np

from envs.pixels import PixelPipeline

gym.register_envs(ale_py)

ATARI_FRAME_SKIP = 4
MAX_EPISODE_FRAMES = 108_000  # 27,000 agent steps, the usual cap in the literature
NOOP_MAX = 30
STICKY_ACTION_PROBABILITY = 0.25  # Machado et al. (2018); off by default, as in the paper


@lru_cache(maxsize=1)
def atari_games() -> dict[str, str]:
    """Every single-player game ale-py ships and registers: ``SpaceInvaders`` -> ``space_invaders``.

    (ale-py also ships four two-player-only ROMs, such as Combat, that it does not register.)
    """
    specs = (spec for spec in gym.registry.values() if spec.namespace == "ALE" and spec.version == 5)
    return {spec.name: spec.kwargs["game"] for spec in sorted(specs, key=lambda spec: spec.name)}


def rom_id(game: str) -> str:
    """ROM id (``space_invaders``) of a CamelCase name (``SpaceInvaders``)."""
    return atari_games()[game]


def strip_atari_id(game_id: str) -> str:
    """``ALE/Pong-v5`` -> ``Pong``; other ids pass unchanged."""
    return re.sub(r"^ALE/|-v\d+$|NoFrameskip|Deterministic", "", game_id.strip())


class AtariResetActions(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Up to ``noop_max`` random no-ops at reset, then FIRE for games that wait for it.

    Runs on the frame-by-frame env, below the frame skip, exactly as the reference
    ``AtariPreprocessing`` does (the number of no-ops is drawn from the env's own RNG).
    """

    def __init__(self, env: gym.Env, *, noop_max: int = NOOP_MAX, fire_reset: bool = True) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, noop_max=noop_max, fire_reset=fire_reset)
        gym.Wrapper.__init__(self, env)
        self.noop_max = noop_max
        meanings = env.unwrapped.get_action_meanings()
        self.fire_reset = fire_reset and len(meanings) >= 3 and meanings[1] == "FIRE"

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        noops = int(self.env.unwrapped.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset()
        if self.fire_reset:
            obs, _, terminated, truncated, info = self.env.step(1)
            if terminated or truncated:
                obs, info = self.env.reset()
        return obs, info

    def get_state(self) -> dict[str, Any]:
        return {}  # settings only; the no-op draws come from the game's RNG, saved with it

    def set_state(self, state: dict[str, Any]) -> None:
        pass


def make_atari_env(
    game: str,
    *,
    render_mode: str | None = None,
    sticky_actions: bool = False,
    noop_max: int = NOOP_MAX,
    fire_reset: bool = True,
    frame_skip: int = ATARI_FRAME_SKIP,
) -> gym.Env:
    """The DeepMind pipeline around one ALE game (no time limit, life loss or clipping: see
    ``envs.make_game``, which caps episodes in agent steps like the native vector env does)."""
    env = gym.make(
        f"ALE/{game}-v5",
        obs_type="grayscale",
        frameskip=1,
        repeat_action_probability=STICKY_ACTION_PROBABILITY if sticky_actions else 0.0,
        full_action_space=False,
        render_mode=render_mode,
    ).unwrapped  # gym.make's checking wrappers hold no game state; ours say theirs (envs/snapshot.py)
    env = AtariResetActions(env, noop_max=noop_max, fire_reset=fire_reset)
    return PixelPipeline(env, frame_skip=frame_skip, max_pool=True)
