"""Evaluation games: eval-mode env (real scores, no life-loss terminals), epsilon 0.05."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from agent.policy import act
from envs import make_env


def evaluate(
    network: nn.Module,
    game: str,
    *,
    episodes: int,
    epsilon: float,
    seed: int,
    device: torch.device,
    max_episode_steps: int | None = None,
) -> list[float]:
    """Plays ``episodes`` whole games and returns their real, unclipped scores."""
    env = make_env(game, mode="eval", max_episode_steps=max_episode_steps)
    rng = np.random.default_rng(seed)
    scores = []
    was_training = network.training
    network.eval()
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        while True:
            action = act(network, obs[None], epsilon, rng, device)[0][0]
            obs, _, terminated, truncated, info = env.step(int(action))
            if terminated or truncated:
                scores.append(float(info["episode_score"]))
                break
    env.close()
    network.train(was_training)
    return scores
