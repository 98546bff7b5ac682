"""Exploration: the linear epsilon schedule and epsilon-greedy action choice.

Two entry points share one rule (``exploration_draws`` decides who explores and with which
random action): ``act`` returns the Q-values too (evaluation and play.py show them), and
``act_for_training`` skips the forward pass when every env explores. Given the same RNG, both
choose the same actions (a test checks it)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class LinearSchedule:
    """Falls linearly from ``start`` to ``end`` over ``duration_steps``, then stays at ``end``."""

    def __init__(self, start: float, end: float, duration_steps: int) -> None:
        self.start, self.end, self.duration_steps = start, end, max(duration_steps, 1)

    def __call__(self, step: int) -> float:
        fraction = min(max(step, 0) / self.duration_steps, 1.0)
        return self.start + fraction * (self.end - self.start)


@torch.no_grad()
def q_values(network: nn.Module, observations: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Q-values of a batch of observations, on ``device``."""
    return network(torch.as_tensor(observations, device=device))


def exploration_draws(
    count: int, num_actions: int, epsilon: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``count`` rows explore (probability ``epsilon``) and their random actions.
    Random draws come from ``rng`` so a run is reproducible and resumable."""
    explore = rng.random(count) < epsilon
    return explore, rng.integers(0, num_actions, size=count)


def epsilon_greedy(q: torch.Tensor, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """One action per row of ``q``: a uniformly random one with probability ``epsilon``, else
    the greedy one."""
    explore, random_actions = exploration_draws(len(q), q.shape[1], epsilon, rng)
    return np.where(explore, random_actions, q.argmax(dim=1).cpu().numpy())


def act(
    network: nn.Module, observations: np.ndarray, epsilon: float, rng: np.random.Generator, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """Epsilon-greedy actions for a batch of observations, and their Q-values (for display)."""
    q = q_values(network, observations, device)
    return epsilon_greedy(q, epsilon, rng), q.cpu().numpy()


def act_for_training(
    network: nn.Module,
    observations: np.ndarray | torch.Tensor,
    num_actions: int,
    epsilon: float,
    rng: np.random.Generator,
    device: torch.device,
) -> np.ndarray:
    """The same actions as ``act`` from the same ``rng``, without the network's forward pass
    when every observation explores (most steps early in training, when epsilon is near 1)."""
    explore, random_actions = exploration_draws(len(observations), num_actions, epsilon, rng)
    if explore.all():
        return random_actions
    greedy = q_values(network, observations, device).argmax(dim=1).cpu().numpy()
    return np.where(explore, random_actions, greedy)
