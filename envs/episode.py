"""The episode rules, each written once: real-score bookkeeping (``ScoreBook``), life loss as
a training terminal (``lives_lost``) and reward clipping (``clip_rewards``).

Both kinds of env apply these same functions: the single-env wrappers below (one game, for
evaluation, play and tests) and ``envs.vector.VectorPipeline`` (N games, the training path).
A test checks that both give the same transitions for the same game, seed and actions.

Order matters: the score is kept *below* life loss and clipping, so it is the real, unclipped
game score over a whole game (all lives).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def clip_rewards(rewards: np.ndarray) -> np.ndarray:
    """Rewards clipped to their sign (-1, 0, +1), as in the paper (training only)."""
    return np.sign(rewards)


def lives_lost(lives_before: np.ndarray, lives_now: np.ndarray) -> np.ndarray:
    """Where a life was lost and the game goes on (the last life lost is a game over, which
    is a terminal already)."""
    return (lives_now < lives_before) & (lives_now > 0)


class ScoreBook:
    """The real score and length of the game in progress in each of ``num_games`` envs."""

    def __init__(self, num_games: int) -> None:
        self.scores = np.zeros(num_games, dtype=np.float64)
        self.lengths = np.zeros(num_games, dtype=np.int64)

    def start(self, games: np.ndarray | slice = slice(None)) -> None:
        """New games begin in ``games`` (a mask or a slice)."""
        self.scores[games] = 0.0
        self.lengths[games] = 0

    def record(self, rewards: np.ndarray, playing: np.ndarray) -> None:
        """One agent step with real ``rewards`` in the games where ``playing``."""
        self.scores[playing] += rewards[playing]
        self.lengths[playing] += 1

    def finished(self, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(score, length) of the games that ``ended``, 0 elsewhere."""
        return np.where(ended, self.scores, 0.0), np.where(ended, self.lengths, 0)

    def get_state(self) -> dict[str, Any]:
        return {"scores": self.scores.copy(), "lengths": self.lengths.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.scores[:] = state["scores"]
        self.lengths[:] = state["lengths"]


class EpisodeStatistics(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds ``info["episode_score"]`` and ``info["episode_length"]`` on the step a game ends."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.book = ScoreBook(1)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self.book.start()
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.book.record(np.array([float(reward)]), np.array([True]))
        ended = np.array([terminated or truncated])
        if ended[0]:
            scores, lengths = self.book.finished(ended)
            info = {**info, "episode_score": float(scores[0]), "episode_length": int(lengths[0])}
        return obs, reward, terminated, truncated, info


class LifeLossTerminal(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Training only: losing a life ends the *training* episode but not the game.

    ``reset()`` right after a lost life continues the same game: it returns the observation
    the life was lost on, without stepping, so the next action is taken from it, exactly as
    the vector env goes on after a lost life. Any other reset (a game over, a seed given, an
    episode abandoned midway) starts a new game.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self._lives = np.zeros(1, dtype=np.int64)
        self._continue_from: tuple[np.ndarray, dict[str, Any]] | None = None

    def _current_lives(self) -> np.ndarray:
        return np.array([self.env.unwrapped.ale.lives()], dtype=np.int64)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        if self._continue_from is not None and kwargs.get("seed") is None:
            obs, info = self._continue_from
        else:
            obs, info = self.env.reset(**kwargs)
        self._continue_from = None
        self._lives = self._current_lives()
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        game_over = bool(terminated or truncated)
        lives = self._current_lives()
        life_lost = bool(lives_lost(self._lives, lives)[0]) and not game_over
        self._lives = lives
        info = {**info, "game_over": game_over}
        self._continue_from = (obs, info) if life_lost else None
        return obs, reward, terminated or life_lost, truncated, info


class ClipReward(gym.RewardWrapper, gym.utils.RecordConstructorArgs):
    """Training only: rewards are clipped to their sign (-1, 0, +1), as in the paper."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.RewardWrapper.__init__(self, env)

    def reward(self, reward: float) -> float:
        return float(clip_rewards(np.float64(reward)))


class EpisodeTimeLimit(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Truncates a game after ``max_episode_steps`` agent steps (gymnasium's ``TimeLimit``,
    with its step count saved explicitly for an exact resume)."""

    def __init__(self, env: gym.Env, max_episode_steps: int) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, max_episode_steps=max_episode_steps)
        gym.Wrapper.__init__(self, env)
        self.max_episode_steps = max_episode_steps
        self.elapsed_steps = 0

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self.elapsed_steps = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.elapsed_steps += 1
        return obs, reward, terminated, truncated or self.elapsed_steps >= self.max_episode_steps, info

    def get_state(self) -> dict[str, Any]:
        return {"elapsed_steps": self.elapsed_steps}

    def set_state(self, state: dict[str, Any]) -> None:
        self.elapsed_steps = int(state["elapsed_steps"])
