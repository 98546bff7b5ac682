"""Whole games played by a network: ``play_games`` (the one game loop, which evaluation and
``play.py`` both consume) and ``evaluate`` (real scores of eval-mode games).

How games are played (epsilon, where a game is cut, sticky actions) is a ``PlaySettings``,
taken from the run's config, so ``play.py`` plays a checkpoint the way its evaluations did.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agent.config import DQNConfig
from agent.policy import act
from envs import make_env


@dataclass(frozen=True)
class PlaySettings:
    """How evaluation games are played."""

    epsilon: float
    max_episode_steps: int | None
    sticky_actions: bool

    @classmethod
    def from_config(cls, config: DQNConfig) -> PlaySettings:
        return cls(config.eval_epsilon, config.eval_max_episode_steps, config.sticky_actions)


@dataclass
class Step:
    """One agent step of a game: the screen the action was chosen on (``frame``), the action,
    the Q-values it was chosen from (``None`` for a random player), what the env returned, the
    real score so far and the screen after the step (``next_frame``). Frames are ``None``
    unless the games are rendered."""

    episode: int
    frame: np.ndarray | None
    action: int
    q_values: np.ndarray | None
    reward: float
    score: float
    done: bool
    info: dict[str, Any]
    next_frame: np.ndarray | None


def play_games(
    game: str,
    network: nn.Module | None,
    settings: PlaySettings,
    *,
    episodes: int,
    seed: int,
    device: torch.device | None,
    render: bool = False,
) -> Iterator[Step]:
    """Plays ``episodes`` eval-mode games (game ``k`` seeded ``seed + k``), one ``Step`` at a
    time; ``network=None`` plays uniformly at random. Stopping the iteration ends the games."""
    env = make_env(
        game,
        mode="eval",
        render_mode="rgb_array" if render else None,
        max_episode_steps=settings.max_episode_steps,
        sticky_actions=settings.sticky_actions,
    )
    rng = np.random.default_rng(seed)
    try:
        for episode in range(episodes):
            observation, _ = env.reset(seed=seed + episode)
            frame = env.render() if render else None
            score, done = 0.0, False
            while not done:
                if network is None:
                    action, q = int(rng.integers(env.action_space.n)), None
                else:
                    actions, q_batch = act(network, observation[None], settings.epsilon, rng, device)
                    action, q = int(actions[0]), q_batch[0]
                observation, reward, terminated, truncated, info = env.step(action)
                done = bool(terminated or truncated)
                score += float(reward)
                next_frame = env.render() if render else None
                yield Step(episode + 1, frame, action, q, float(reward), score, done, info, next_frame)
                frame = next_frame
    finally:
        env.close()


def evaluate(
    network: nn.Module,
    game: str,
    settings: PlaySettings,
    *,
    episodes: int,
    seed: int,
    device: torch.device,
) -> list[float]:
    """Plays ``episodes`` whole games and returns their real, unclipped scores."""
    was_training = network.training
    network.eval()
    try:
        games = play_games(game, network, settings, episodes=episodes, seed=seed, device=device)
        return [float(step.info["episode_score"]) for step in games if step.done]
    finally:
        network.train(was_training)
