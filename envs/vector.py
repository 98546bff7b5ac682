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

from typing import Any

import gymnasium as gym
import numpy as np


class VectorPipeline(gym.vector.VectorWrapper):
    """Episode bookkeeping, life-loss terminals and reward clipping for a vector env.

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
        self._scores = np.zeros(self.num_envs, dtype=np.float64)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._lives = np.zeros(self.num_envs, dtype=np.int64)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._game_over[:] = False
        self._scores[:] = 0.0
        self._lengths[:] = 0
        self._lives[:] = info.get("lives", 0)
        return obs, {**info, "first": np.ones(self.num_envs, dtype=bool)}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(np.asarray(actions, dtype=np.int64))
        first = self._game_over.copy()
        reward = np.asarray(reward, dtype=np.float32)
        game_over = (np.asarray(terminated) | np.asarray(truncated)) & ~first
        terminated = np.asarray(terminated, dtype=bool) & ~first
        truncated = np.asarray(truncated, dtype=bool) & ~first

        self._scores[first] = 0.0
        self._lengths[first] = 0
        playing = ~first
        self._scores[playing] += reward[playing]
        self._lengths[playing] += 1
        episode_score = np.where(game_over, self._scores, 0.0)
        episode_length = np.where(game_over, self._lengths, 0)

        if "lives" in info:
            lives = np.asarray(info["lives"], dtype=np.int64)
            if self.life_loss_terminal:
                terminated = terminated | (playing & (lives < self._lives) & (lives > 0))
            self._lives = lives
        if self.clip_rewards:
            reward = np.sign(reward)
        self._game_over = game_over
        info = {
            **info,
            "first": first,
            "episode_done": game_over,
            "episode_score": episode_score,
            "episode_length": episode_length,
        }
        return obs, reward, terminated, truncated, info


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
