"""agent/optimizer_step.py: the direct fused Adam step is torch.optim.Adam's own, and the direct
gradient clipping torch's clip_grad_norm_, to the bit."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from agent.optimizer_step import GradientNormClip, OptimizerStep, takes_direct_step


def _network(device: str = "cpu") -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)


def _gradients(network: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(32, 6, generator=generator).to(next(network.parameters()).device)
    for parameter in network.parameters():
        parameter.grad = None
    network(inputs).pow(2).mean().backward()


def _step_both(reference: nn.Module, ours: nn.Module, reference_optimizer, our_step: OptimizerStep, seed: int) -> None:
    """The same gradients on both networks, then torch.optim's step on one and ours on the other."""
    _gradients(reference, seed)
    _gradients(ours, seed)
    reference_optimizer.step()
    our_step()


def _assert_same_weights(ours: nn.Module, reference: nn.Module) -> None:
    for mine, theirs in zip(ours.parameters(), reference.parameters()):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=pytest.mark.gpu,
        ),
    ],
)
def test_the_direct_step_gives_the_same_weights_and_state_as_adam_step(device):
    reference, direct = _network(device), _network(device)
    reference_adam = torch.optim.Adam(reference.parameters(), lr=1e-3, eps=1.5e-4, fused=True)
    direct_adam = torch.optim.Adam(direct.parameters(), lr=1e-3, eps=1.5e-4, fused=True)
    assert takes_direct_step(direct_adam)
    direct_step = OptimizerStep(direct_adam)
    for number in range(12):
        if number == 6:  # a learning-rate change, and the state reloaded (a resume), on both
            for adam in (reference_adam, direct_adam):
                adam.param_groups[0]["lr"] = 3e-4
            direct_adam.load_state_dict(copy.deepcopy(direct_adam.state_dict()))
        _step_both(reference, direct, reference_adam, direct_step, number)
    _assert_same_weights(direct, reference)
    ours_state, theirs_state = direct_adam.state_dict()["state"], reference_adam.state_dict()["state"]
    for index, theirs in theirs_state.items():
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(ours_state[index][name], theirs[name]), (index, name)
    assert float(ours_state[0]["step"]) == 12


@pytest.mark.parametrize(
    "make",
    [
        lambda parameters: torch.optim.Adam(parameters, fused=False, foreach=False),
        lambda parameters: torch.optim.Adam(parameters, fused=True, weight_decay=0.1),
        lambda parameters: torch.optim.Adam(parameters, fused=True, amsgrad=True),
        lambda parameters: torch.optim.AdamW(parameters, fused=True),
        lambda parameters: torch.optim.RMSprop(parameters, centered=True),
    ],
    ids=["unfused", "weight-decay", "amsgrad", "adamw", "rmsprop"],
)
def test_other_optimizers_take_their_own_step(make):
    reference, ours = _network(), _network()
    reference_optimizer, our_optimizer = make(reference.parameters()), make(ours.parameters())
    assert not takes_direct_step(our_optimizer)
    our_step = OptimizerStep(our_optimizer)
    for number in range(3):
        _step_both(reference, ours, reference_optimizer, our_step, number)
    _assert_same_weights(ours, reference)


def _gradients_of_scale(network: nn.Module, scale: float, seed: int) -> None:
    _gradients(network, seed)
    for parameter in network.parameters():
        parameter.grad.mul_(scale)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3], ids=["below", "about", "above"])
def test_the_direct_clip_scales_the_gradients_as_clip_grad_norm_does(scale):
    reference, ours = _network(), _network()
    clip = GradientNormClip(list(ours.parameters()), max_norm=1.0)
    assert clip.direct
    for seed in range(3):
        _gradients_of_scale(reference, scale, seed)
        _gradients_of_scale(ours, scale, seed)
        unclipped_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ours.parameters()]))
        nn.utils.clip_grad_norm_(reference.parameters(), max_norm=1.0)
        clip()
        for mine, theirs in zip(ours.parameters(), reference.parameters()):
            assert torch.equal(mine.grad, theirs.grad)
        clipped_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ours.parameters()]))
        assert clipped_norm <= 1.0 + 1e-5
        if unclipped_norm < 1.0:  # left alone below the limit
            assert clipped_norm == pytest.approx(float(unclipped_norm))


def test_the_clip_hands_a_missing_gradient_or_mixed_types_to_clip_grad_norm_():
    reference, ours = _network(), _network()
    _gradients_of_scale(reference, 1e3, 0)
    _gradients_of_scale(ours, 1e3, 0)
    for network in (reference, ours):
        network[0].bias.grad = None  # a parameter the loss did not reach
    clip = GradientNormClip(list(ours.parameters()), max_norm=1.0)
    assert clip.direct
    nn.utils.clip_grad_norm_(reference.parameters(), max_norm=1.0)
    clip()
    assert ours[0].bias.grad is None
    for mine, theirs in zip(ours.parameters(), reference.parameters()):
        assert (mine.grad is None and theirs.grad is None) or torch.equal(mine.grad, theirs.grad)
    mixed = [nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3, dtype=torch.float64))]
    for parameter in mixed:
        parameter.grad = torch.full_like(parameter, 10.0)
    clip = GradientNormClip(mixed, max_norm=1.0)
    assert not clip.direct
    clip()
    total = (mixed[0].grad.double().pow(2).sum() + mixed[1].grad.pow(2).sum()).sqrt()
    assert float(total) == pytest.approx(1.0, rel=1e-5)
