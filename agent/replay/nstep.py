"""n-step returns over rows of consecutive stored steps."""

from __future__ import annotations

import numpy as np


def n_step_returns(
    rewards: np.ndarray, recorded: np.ndarray, ends: np.ndarray, discount: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of up to n consecutive steps (``rewards``, whether each step was
    ``recorded``, whether it ``ends`` the episode: terminated or truncated), the discounted
    return, the number of steps summed and the index of the last one. The sum stops after the
    first step that ends the episode, or before a step not recorded yet."""
    continues = recorded & ~ends
    alive = np.ones_like(recorded)
    alive[:, 1:] = np.cumprod(continues, axis=1)[:, :-1]
    alive &= recorded
    steps = alive.sum(axis=1)
    returns = (rewards * alive * discount ** np.arange(rewards.shape[1])).sum(axis=1).astype(np.float32)
    return returns, steps, steps - 1
