"""The gradient step captured as a CUDA graph gives the eager step's weights; off CUDA the
switch leaves the eager step in place."""

from __future__ import annotations

import pytest
import torch

from agent.config import make_config
from agent.learner import DQNLearner
from agent.network import build_q_network


def atari_batches(count: int, device: torch.device, *, prioritized: bool) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        batch = {
            "state": torch.randint(0, 256, (32, 4, 84, 84), dtype=torch.uint8, generator=generator),
            "action": torch.randint(0, 4, (32,), generator=generator),
            "reward": torch.randn(32, generator=generator).sign(),
            "next_state": torch.randint(0, 256, (32, 4, 84, 84), dtype=torch.uint8, generator=generator),
            "discount": torch.where(torch.rand(32, generator=generator) < 0.1, 0.0, 0.99),
        }
        if prioritized:
            batch["weight"] = torch.rand(32, generator=generator)
        batches.append({name: value.to(device) for name, value in batch.items()})
    return batches


def learners(device: torch.device, **changes) -> tuple[DQNLearner, DQNLearner]:
    """An eager learner and one asked to capture, with the same weights."""
    made = []
    for captured in (False, True):
        config = make_config("atari", captured_update=captured, **changes)
        torch.manual_seed(0)
        made.append(DQNLearner(build_q_network(config, (4, 84, 84), 4), config, device))
    return made[0], made[1]


def train_both(eager: DQNLearner, captured: DQNLearner, batches: list[dict[str, torch.Tensor]]) -> None:
    for index, batch in enumerate(batches):
        for learner in (eager, captured):
            learner.update(batch)
            if index == len(batches) // 2:
                learner.sync_target()  # a hard sync between replays keeps the capture valid


def test_off_cuda_the_switch_keeps_the_eager_step():
    eager, asked = learners(torch.device("cpu"))
    assert not asked.captured
    train_both(eager, asked, atari_batches(4, torch.device("cpu"), prioritized=False))
    for a, b in zip(eager.online.parameters(), asked.online.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
@pytest.mark.parametrize(("optimizer", "prioritized"), [("adam", False), ("adam", True), ("rmsprop", False)])
def test_captured_and_eager_updates_give_the_same_weights(optimizer, prioritized):
    device = torch.device("cuda")
    eager, captured = learners(device, optimizer=optimizer)
    assert captured.captured
    batches = atari_batches(12, device, prioritized=prioritized)  # warm-ups, the capture, then replays
    train_both(eager, captured, batches)
    torch.cuda.synchronize()
    assert captured._step.graph is not None and captured.updates_done == 12
    for a, b in zip(eager.online.parameters(), captured.online.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(eager.target.parameters(), captured.target.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
