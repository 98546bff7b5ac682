"""An optimizer step without ``torch.optim``'s per-call Python.

``torch.optim.Adam.step`` wraps its fused kernel in about 60 µs of Python per call (profiling
hooks, grouping the tensors by device, checks) where the kernel itself takes about 10 µs for a
small network: on the CPU a seventh of a whole update of the host-side bench's trivial
network, paid twice per vector step of 8 envs. ``OptimizerStep(optimizer)()`` hands the optimizer's own
parameters and state to the same fused kernel, so the result is the same to the bit, and the
optimizer's ``state_dict``, checkpoints and learning rate work as before. An optimizer it cannot
step exactly that way (not a fused ``Adam``, capturable, amsgrad, weight decay, several
parameter groups, a parameter without a gradient, or no state yet before its first step) takes
its own ``step()``.
"""

from __future__ import annotations

import torch


def takes_direct_step(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``step`` may call the fused kernel itself for this optimizer's settings."""
    if type(optimizer) is not torch.optim.Adam or len(optimizer.param_groups) != 1:
        return False
    group = optimizer.param_groups[0]
    return (
        bool(group.get("fused"))
        and not group.get("capturable")
        and not group.get("amsgrad")
        and not group.get("maximize")
        and not group.get("differentiable")
        and not group.get("decoupled_weight_decay")
        and group.get("weight_decay") == 0
        and isinstance(group.get("lr"), float)
        and hasattr(torch, "_fused_adam_")
        and len({(parameter.device, parameter.dtype) for parameter in group["params"]}) == 1
    )


class OptimizerStep:
    """Steps ``optimizer``: straight into the fused Adam kernel where ``direct`` (decided once,
    by ``takes_direct_step``) and every parameter has a gradient and state, else through
    ``optimizer.step()``."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.direct = takes_direct_step(optimizer)

    def __call__(self) -> None:
        optimizer = self.optimizer
        if not self.direct:
            optimizer.step()
            return
        group = optimizer.param_groups[0]
        params: list[torch.Tensor] = group["params"]
        grads, exp_avgs, exp_avg_sqs, steps = [], [], [], []
        for parameter in params:
            state = optimizer.state.get(parameter)
            if parameter.grad is None or not state:  # the first step creates the state
                optimizer.step()
                return
            grads.append(parameter.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            amsgrad=False,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=0.0,
            eps=group["eps"],
            maximize=False,
        )
