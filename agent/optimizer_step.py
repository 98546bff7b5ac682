"""The step after the backward pass (gradient clipping, then the optimizer's step) without
``torch``'s per-call Python.

``torch.optim.Adam.step`` wraps its fused kernel in about 60 µs of Python per call (profiling
hooks, grouping the tensors by device, checks) where the kernel itself takes about 10 µs for a
small network: on the CPU a seventh of a whole update of the host-side bench's trivial
network, paid twice per vector step of 8 envs. ``OptimizerStep(optimizer)()`` hands the optimizer's own
parameters and state to the same fused kernel, so the result is the same to the bit, and the
optimizer's ``state_dict``, checkpoints and learning rate work as before. An optimizer it cannot
step exactly that way (not a fused ``Adam``, capturable, amsgrad, weight decay, several
parameter groups, a parameter without a gradient, or no state yet before its first step) takes
its own ``step()``.

``torch.nn.utils.clip_grad_norm_`` likewise spends about 70 of its 110 µs (a one-parameter
network, on the 2-core CPU of the README's figures) grouping the gradients by device and type
before three kernels; ``GradientNormClip(parameters, max_norm)()`` runs the same kernels in
the same order on gradients of one device and type (the learner's network), so the clipped
gradients are the same to the bit, and hands anything else to ``clip_grad_norm_``.
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


class GradientNormClip:
    """Scales the gradients of ``parameters`` so that their joint 2-norm is at most
    ``max_norm``, exactly as ``torch.nn.utils.clip_grad_norm_(parameters, max_norm)`` does;
    directly where every parameter is on one CPU or CUDA device with one dtype (decided once)
    and has a gradient, else through ``clip_grad_norm_``."""

    def __init__(self, parameters: list[torch.Tensor], max_norm: float) -> None:
        self.parameters = list(parameters)
        self.max_norm = float(max_norm)
        kinds = {(parameter.device, parameter.dtype) for parameter in self.parameters}
        self.direct = len(kinds) == 1 and next(iter(kinds))[0].type in ("cpu", "cuda")

    def __call__(self) -> None:  # (gradients from a plain backward pass record no history: no no_grad needed)
        gradients = [parameter.grad for parameter in self.parameters]
        if not self.direct or any(gradient is None for gradient in gradients):
            torch.nn.utils.clip_grad_norm_(self.parameters, self.max_norm)
            return
        total_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(gradients, 2.0)), 2.0)
        scale = torch.clamp(self.max_norm / (total_norm + 1e-6), max=1.0)  # no host read: capturable
        torch._foreach_mul_(gradients, scale)
