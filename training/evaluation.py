"""Whole games played by a network: ``episode_steps`` (the loop that evaluation and
``play.py`` share) and ``evaluate`` (eval-mode env: real scores, no life-loss terminals,
epsilon 0.05)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agent.policy import act
from envs import make_env


@dataclass
class Step:
    """One agent step of a game: the action taken, the Q-values it was chosen from (``None``
    for a random player), and what the env returned."""

    action: int
    q_values: np.ndarray | None
    reward: float
    done: bool
    info: dict[str, Any]


def episode_steps(
    env: gym.Env,
    observation: np.ndarray,
    network: nn.Module | None,
    *,
    epsilon: float,
    rng: np.random.Generator,
    device: torch.device,
) -> Iterator[Step]:
    """Plays one game from ``observation`` (the env just reset) to its end, one ``Step`` at a
    time; ``network=None`` plays uniformly at random."""
    while True:
        if network is None:
            action, q = int(rng.integers(env.action_space.n)), None
        else:
            actions, q_batch = act(network, observation[None], epsilon, rng, device)
            action, q = int(actions[0]), q_batch[0]
        observation, reward, terminated, truncated, info = env.step(action)
        done = bool(terminated or truncated)
        yield Step(action, q, float(reward), done, info)
        if done:
            return


def evaluate(
    network: nn.Module,
    game: str,
    *,
    episodes: int,
    epsilon: float,
    seed: int,
    device: torch.device,
    max_episode_steps: int | None = None,
    sticky_actions: bool = False,
) -> list[float]:
    """Plays ``episodes`` whole games and returns their real, unclipped scores."""
    env = make_env(game, mode="eval", max_episode_steps=max_episode_steps, sticky_actions=sticky_actions)
    rng = np.random.default_rng(seed)
    scores = []
    was_training = network.training
    network.eval()
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        for step in episode_steps(env, observation, network, epsilon=epsilon, rng=rng, device=device):
            if step.done:
                scores.append(float(step.info["episode_score"]))
    env.close()
    network.train(was_training)
    return scores
