"""Episode-level wrappers shared by every game: real-score statistics, life loss as a
training terminal, and reward clipping.

Order matters: ``EpisodeStatistics`` sits *below* life loss and clipping so the score it
reports is the real, unclipped game score over a whole game (all lives).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class EpisodeStatistics(gym.Wrapper):
    """Adds ``info["episode_score"]`` and ``info["episode_length"]`` on the step a game ends."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._score = 0.0
        self._length = 0

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self._score, self._length = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._score += float(reward)
        self._length += 1
        if terminated or truncated:
            info = {**info, "episode_score": self._score, "episode_length": self._length}
        return obs, reward, terminated, truncated, info


class LifeLossTerminal(gym.Wrapper):
    """Training only: losing a life ends the *training* episode but not the game.

    ``reset()`` after a life loss continues the same game with one no-op step instead of
    restarting it, so the agent learns that losing a life is bad without seeing fewer games.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._lives = 0
        self._game_over = True

    def _current_lives(self) -> int:
        return int(self.env.unwrapped.ale.lives())

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        if self._game_over:
            obs, info = self.env.reset(**kwargs)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        self._game_over = False
        self._lives = self._current_lives()
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._game_over = terminated or truncated
        lives = self._current_lives()
        life_lost = 0 < lives < self._lives
        self._lives = lives
        return obs, reward, terminated or life_lost, truncated, {**info, "game_over": self._game_over}


class ClipReward(gym.RewardWrapper):
    """Training only: rewards are clipped to their sign (-1, 0, +1), as in the paper."""

    def reward(self, reward: float) -> float:
        return float(np.sign(reward))
