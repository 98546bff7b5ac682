"""The gradient step captured as a CUDA graph gives the eager step's weights; off CUDA the
switch leaves the eager step in place."""

from __future__ import annotations

import copy

import numpy as np
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


def assert_same_weights(eager: DQNLearner, captured: DQNLearner) -> None:
    # Not to the bit: eager and captured runs may pick other cuDNN algorithms (the capture sees
    # a warmed-up workspace), whose sums are ordered differently; over a dozen Adam steps that
    # stays within float32 round-off of the weights (relative 1e-4), far below one step's change.
    for a, b in zip(eager.online.parameters(), captured.online.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(eager.target.parameters(), captured.target.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def assert_the_graph_runs(captured: DQNLearner, updates: int) -> None:
    torch.cuda.synchronize()
    assert captured._step.graph is not None and captured.updates_done == updates


CAPTURE_MEETS = {
    "adam": {"optimizer": "adam"},
    "rmsprop": {"optimizer": "rmsprop"},
    "clipped": {"max_grad_norm": 10.0},
    "double": {"double_dqn": True},
    "soft-target": {"target_update_tau": 0.005},
    "dueling-double-clipped-rmsprop": {
        "dueling": True,
        "double_dqn": True,
        "max_grad_norm": 1.0,
        "optimizer": "rmsprop",
    },
}


@pytest.mark.gpu
@pytest.mark.parametrize("prioritized", [False, True], ids=["uniform", "weighted"])
@pytest.mark.parametrize("changes", CAPTURE_MEETS.values(), ids=CAPTURE_MEETS.keys())
def test_captured_and_eager_updates_give_the_same_weights(changes, prioritized):
    device = torch.device("cuda")
    eager, captured = learners(device, **changes)
    assert captured.captured and not eager.captured
    batches = atari_batches(12, device, prioritized=prioritized)  # warm-ups, the capture, then replays
    train_both(eager, captured, batches)
    assert_the_graph_runs(captured, 12)
    assert_same_weights(eager, captured)


@pytest.mark.gpu
def test_captured_updates_from_the_device_memory_with_n_step_returns_and_priorities():
    """The batches a prioritized 3-step device memory on the GPU draws, and the priorities the
    updates set there: the captured learner's weights are the eager one's."""
    from agent.replay import DeviceReplayMemory

    device = torch.device("cuda")
    eager, captured = learners(device, n_step=3, prioritized_replay=True, double_dqn=True, max_grad_norm=10.0)
    memory = DeviceReplayMemory(2_000, 2, (4, 84, 84), device=device, seed=0, n_step=3, prioritized=True)
    rng = np.random.default_rng(0)
    for stream in range(2):
        memory.start_episode(stream, rng.integers(0, 256, (4, 84, 84), dtype=np.uint8))
    for step in range(300):
        memory.add_vector_step(
            rng.integers(0, 4, 2),
            rng.choice([-1.0, 0.0, 1.0], 2).astype(np.float32),
            rng.random(2) < 0.02,
            np.zeros(2, bool),
            rng.integers(0, 256, (2, 4, 84, 84), dtype=np.uint8),
            np.zeros(2, bool),
        )
    before = [parameter.clone() for parameter in captured.online.parameters()]
    for index in range(20):
        batch = memory.sample(32)
        metrics = eager.update(batch)
        captured.update(batch)
        memory.update_priorities(batch["index"], metrics["td_error"])
        if index == 10:
            for learner in (eager, captured):
                learner.sync_target()
    assert_the_graph_runs(captured, 20)
    assert_same_weights(eager, captured)
    assert any(not torch.equal(a, b) for a, b in zip(before, captured.online.parameters()))


@pytest.mark.gpu
def test_a_captured_run_resumes_an_eager_runs_checkpoint_and_captures():
    """An eager Adam checkpoint (fused, not capturable) resumed with ``captured_update=true``:
    without this run's settings put back, the capture fails ("capturable is False")."""
    device = torch.device("cuda")
    eager, captured = learners(device)
    batches = atari_batches(10, device, prioritized=False)
    for batch in batches[:3]:
        eager.update(batch)
    captured.load_state_dict(copy.deepcopy(eager.state_dict()))  # as from a file: no tensor shared
    assert captured.optimizer.param_groups[0]["capturable"] is True
    for batch in batches[3:]:
        eager.update(batch)
        captured.update(batch)
    assert_the_graph_runs(captured, 10)
    assert_same_weights(eager, captured)


@pytest.mark.gpu
def test_the_capture_waits_for_an_evaluation_in_play_and_the_weights_keep_moving():
    """An evaluation asked for just before the capture (one due before ``learning_starts``)
    plays on the GPU in its own thread: the capture waits until its games are over."""
    from training.background_evaluation import BackgroundEvaluator, EvaluationJob
    from training.evaluation import PlaySettings

    device = torch.device("cuda")
    config = make_config("pygame", captured_update=True)
    torch.manual_seed(0)
    learner = DQNLearner(build_q_network(config, (4, 84, 84), 3), config, device)
    evaluator = BackgroundEvaluator(
        "Catcher", PlaySettings(epsilon=0.05, max_episode_steps=400, sticky_actions=False), episodes=2, device=device
    )
    drained_at_capture = []
    learner.before_capture = lambda: (evaluator.wait_until_idle(), drained_at_capture.append(evaluator.finished()))
    try:
        batches = atari_batches(8, device, prioritized=False)
        for batch in batches:
            batch["action"] = batch["action"] % 3
        for index, batch in enumerate(batches):
            if index == 2:  # due just before the capture (the 4th update)
                network = copy.deepcopy(learner.online).requires_grad_(False)
                evaluator.submit(EvaluationJob(step=index, seed=1, network=network, checkpoint_state={}))
            if index == 5:
                after_capture = [parameter.clone() for parameter in learner.online.parameters()]
            learner.update(batch)
        assert_the_graph_runs(learner, 8)
        assert len(drained_at_capture) == 1 and [result.step for result in drained_at_capture[0]] == [2]
        assert any(not torch.equal(a, b) for a, b in zip(after_capture, learner.online.parameters()))
    finally:
        evaluator.close()
