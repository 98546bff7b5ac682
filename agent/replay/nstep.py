"""n-step returns over rows of consecutive stored steps (torch, on whatever device holds them;
the host memory calls it on zero-copy views of its arrays)."""

from __future__ import annotations

import torch


def n_step_returns(
    rewards: torch.Tensor, recorded: torch.Tensor, ends: torch.Tensor, discount: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each row of up to n consecutive steps (``rewards``, whether each step was
    ``recorded``, whether it ``ends`` the episode: terminated or truncated), the discounted
    return, the number of steps summed and the index of the last one. The sum stops after the
    first step that ends the episode, or before a step not recorded yet."""
    if rewards.shape[1] == 1:  # 1-step returns: the reward itself, where recorded
        steps = recorded[:, 0].to(torch.int64)
        return (rewards[:, 0] * recorded[:, 0]).float(), steps, steps - 1
    continues = (recorded & ~ends).to(torch.int64)
    alive = torch.ones_like(continues)
    alive[:, 1:] = torch.cumprod(continues, dim=1)[:, :-1]
    alive = alive.bool() & recorded
    steps = alive.sum(dim=1)
    powers = discount ** torch.arange(rewards.shape[1], device=rewards.device, dtype=torch.float64)
    returns = (rewards.double() * alive * powers).sum(dim=1).float()
    return returns, steps, steps - 1
