"""The DQN learner: a pure ``td_loss`` and one ``update(batch)`` that does the whole gradient
step with fixed shapes and no host reads (so a CUDA graph can take it whole), plus
target-network syncing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from agent.captured_update import CapturedUpdate
from agent.config import DQNConfig
from agent.network import place_network
from agent.optimizer_step import GradientNormClip, OptimizerStep


def td_loss(
    online_q: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    discounts: torch.Tensor,
    target_next_q: torch.Tensor,
    online_next_q: torch.Tensor | None = None,
    huber_delta: float = 1.0,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Huber TD loss of Q-learning, the Q-values of the actions taken, and the TD errors.

    Args:
        online_q: ``(B, A)`` online Q-values of the states.
        actions: ``(B,)`` actions taken.
        rewards: ``(B,)`` (n-step) rewards.
        discounts: ``(B,)`` gamma^n, and 0 where the episode terminated: a terminal does not
            bootstrap; a time-limit truncation does.
        target_next_q: ``(B, A)`` target-network Q-values of the next states.
        online_next_q: ``(B, A)`` online Q-values of the next states for Double DQN (the
            online network picks the action, the target network scores it); ``None`` for
            the max of the target network.
        weights: ``(B,)`` importance-sampling weights of a prioritized batch (``None``: 1).
    """
    q_taken = online_q.gather(1, actions.long().unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        if online_next_q is None:
            next_value = target_next_q.max(dim=1).values
        else:
            next_value = target_next_q.gather(1, online_next_q.argmax(dim=1, keepdim=True)).squeeze(1)
        target = rewards + discounts * next_value
    if weights is None:
        loss = F.huber_loss(q_taken, target, delta=huber_delta)
    else:
        loss = (weights * F.huber_loss(q_taken, target, delta=huber_delta, reduction="none")).mean()
    return loss, q_taken, (target - q_taken).detach()


def make_optimizer(
    config: DQNConfig, parameters: Any, device: torch.device, *, capturable: bool = False
) -> torch.optim.Optimizer:
    """The config's optimizer; ``capturable``: its step can be captured in a CUDA graph."""
    if config.optimizer == "adam":
        # the fused kernel is 13x faster than the default per-parameter loop on the CPU
        fused = device.type in ("cpu", "cuda")
        return torch.optim.Adam(
            parameters, lr=config.learning_rate, eps=config.optimizer_eps, fused=fused, capturable=capturable
        )
    if config.optimizer == "rmsprop":
        # The paper's RMSprop (Graves' centered variant; eps inside the square root in
        # DeepMind's code, added after it here).
        return torch.optim.RMSprop(
            parameters,
            lr=config.learning_rate,
            alpha=config.rmsprop_alpha,
            eps=config.optimizer_eps,
            centered=True,
            capturable=capturable,
        )
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose adam or rmsprop")


# the optimizer settings that say how a step runs (not what it computes): a run decides them
# for its own device, whatever the run that saved a checkpoint decided for its own
HOW_THE_STEP_RUNS = ("capturable", "fused")


def keep_how_the_step_runs(optimizer: torch.optim.Optimizer, settings: list[dict[str, Any]]) -> None:
    """After ``optimizer.load_state_dict``: puts back this run's ``settings`` (one dict per
    parameter group, as ``HOW_THE_STEP_RUNS`` were before loading) and moves each step counter
    to where an optimizer so set keeps it: on the parameter's device as float32 when capturable
    or fused, else a float32 scalar on the CPU (torch.optim's own placement)."""
    for group, own in zip(optimizer.param_groups, settings, strict=True):
        group.update(own)
        on_device = bool(group.get("capturable") or group.get("fused"))
        for parameter in group["params"]:
            state = optimizer.state.get(parameter, {})
            if torch.is_tensor(state.get("step")):
                where = parameter.device if on_device else torch.device("cpu")
                state["step"] = state["step"].to(device=where, dtype=torch.float32)


class DQNLearner:
    """Online and target networks, the optimizer, and the update rule."""

    def __init__(self, network: nn.Module, config: DQNConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.online = place_network(network, device)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        # the gradient step as one CUDA graph (agent/captured_update.py); elsewhere eager
        self.captured = config.captured_update and device.type == "cuda"
        self.optimizer = make_optimizer(config, self.online.parameters(), device, capturable=self.captured)
        self._how_the_step_runs = [
            {name: group[name] for name in HOW_THE_STEP_RUNS if name in group} for group in self.optimizer.param_groups
        ]
        self._parameters = list(self.online.parameters())
        self.optimizer_step = OptimizerStep(self.optimizer)  # agent/optimizer_step.py
        self.clip_gradients = GradientNormClip(self._parameters, config.max_grad_norm)
        self.before_capture: Callable[[], None] = lambda: None
        """Called once, just before the gradient step is captured (the run loop lets the
        evaluations in play finish first, so that no other thread uses the GPU meanwhile)."""
        self._step = self._new_step()
        self.updates_done = 0

    def _new_step(self) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
        if not self.captured:
            return self._gradient_step
        return CapturedUpdate(self._gradient_step, self.device, before_capture=lambda: self.before_capture())

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One gradient step on a batch; returns ``loss``, ``mean_q`` and per-sample ``td_error``
        as device tensors (reading them forces a device sync, so callers read them only when
        logging, or for new priorities; a captured step overwrites them at the next update)."""
        metrics = self._step(batch)
        self.updates_done += 1
        return metrics

    def _gradient_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The whole step, with fixed shapes and no host reads (so it can be captured)."""
        online_q = self.online(batch["state"])
        with torch.no_grad():
            target_next_q = self.target(batch["next_state"])
            online_next_q = self.online(batch["next_state"]) if self.config.double_dqn else None
        loss, q_taken, td_error = td_loss(
            online_q,
            batch["action"],
            batch["reward"],
            batch["discount"],
            target_next_q,
            online_next_q,
            self.config.huber_delta,
            batch.get("weight"),
        )
        for parameter in self._parameters:
            parameter.grad = None
        loss.backward()
        if self.config.max_grad_norm > 0:
            self.clip_gradients()
        self.optimizer_step()
        if self.config.target_update_tau < 1.0:
            self.soft_update_target(self.config.target_update_tau)
        return {"loss": loss.detach(), "mean_q": q_taken.detach().mean(), "td_error": td_error}

    @torch.no_grad()
    def sync_target(self) -> None:
        """Hard copy of the online weights into the target network."""
        self.target.load_state_dict(self.online.state_dict())

    @torch.no_grad()
    def soft_update_target(self, tau: float) -> None:
        for target, online in zip(self.target.parameters(), self.online.parameters()):
            target.lerp_(online, tau)

    def state_dict(self) -> dict[str, Any]:
        return {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates_done": self.updates_done,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        keep_how_the_step_runs(self.optimizer, self._how_the_step_runs)
        self.optimizer_step = OptimizerStep(self.optimizer)  # decided again for the loaded state
        self._step = self._new_step()  # a graph captured before holds the replaced optimizer state
        self.updates_done = int(state["updates_done"])
