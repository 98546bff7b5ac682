"""The TD target and loss against hand-computed numbers, and the learner's update rule."""

from __future__ import annotations

import copy

import pytest
import torch

from agent.config import DQNConfig
from agent.learner import DQNLearner, td_loss
from agent.network import MLP, NatureCNN, build_q_network


def test_td_loss_matches_a_hand_computed_example():
    online_q = torch.tensor([[1.0, 2.0], [0.5, 0.0], [3.0, 1.0]])
    actions = torch.tensor([1, 0, 0])
    rewards = torch.tensor([1.0, -1.0, 0.0])
    # row 0 truncated (bootstrapped, gamma 0.9), row 1 terminal (discount 0), row 2 an ordinary step
    discounts = torch.tensor([0.9, 0.0, 0.9])
    target_next_q = torch.tensor([[4.0, 10.0], [100.0, 100.0], [2.0, 6.0]])
    loss, q_taken, _ = td_loss(online_q, actions, rewards, discounts, target_next_q)
    # targets: 1 + 0.9*10 = 10; -1 (no bootstrap); 0 + 0.9*6 = 5.4
    # errors:  10-2 = 8 -> huber 7.5;  -1-0.5 = -1.5 -> 1.0;  5.4-3 = 2.4 -> 1.9
    assert q_taken.tolist() == [2.0, 0.5, 3.0]
    assert loss.item() == pytest.approx((7.5 + 1.0 + 1.9) / 3)


def test_double_dqn_scores_the_online_argmax_with_the_target_network():
    online_q = torch.tensor([[0.0, 0.0]])
    target_next_q = torch.tensor([[5.0, 1.0]])
    online_next_q = torch.tensor([[0.0, 3.0]])  # the online network prefers action 1
    args = (online_q, torch.tensor([0]), torch.tensor([0.0]), torch.tensor([1.0]), target_next_q)
    plain_loss, _, _ = td_loss(*args)
    double_loss, _, _ = td_loss(*args, online_next_q=online_next_q)
    assert plain_loss.item() == pytest.approx(5.0 - 0.5)  # target max = 5
    assert double_loss.item() == pytest.approx(0.5)  # target of the online argmax = 1


def test_nature_cnn_shapes_and_uint8_input():
    network = NatureCNN(4, 6)
    convs = [m for m in network.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (32, (8, 8), (4, 4)),
        (64, (4, 4), (2, 2)),
        (64, (3, 3), (1, 1)),
    ]
    assert network.head.advantage[0].out_features == 512
    q = network(torch.randint(0, 255, (2, 4, 84, 84), dtype=torch.uint8))
    assert q.shape == (2, 6) and q.dtype == torch.float32


def test_nature_cnn_computes_the_plain_nchw_convolutions():
    """The channels-last fast path changes the memory layout only, not the function."""
    torch.manual_seed(0)
    network = NatureCNN(4, 6)
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    x = frames.float() / 255.0
    for layer in network.convs:
        x = (
            torch.nn.functional.conv2d(x.contiguous(), layer.weight, layer.bias, layer.stride)
            if isinstance(layer, torch.nn.Conv2d)
            else layer(x)
        )
    expected = network.head(x)
    torch.testing.assert_close(network(frames), expected, rtol=1e-4, atol=1e-5)


def test_dueling_head_and_mlp():
    q = MLP(4, 2, dueling=True)(torch.zeros(3, 4))
    assert q.shape == (3, 2)
    q = NatureCNN(4, 3, dueling=True)(torch.zeros(1, 4, 84, 84, dtype=torch.uint8))
    assert q.shape == (1, 3)


def test_network_matches_observation_or_explains():
    with pytest.raises(ValueError, match="network=mlp"):
        build_q_network(DQNConfig(), (4,), 2)


def make_learner(**changes) -> DQNLearner:
    config = DQNConfig(**{"network": "mlp", "optimizer": "adam", "learning_rate": 1e-2, **changes})
    return DQNLearner(build_q_network(config, (3,), 2), config, torch.device("cpu"))


def batch_of(size: int = 8) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "state": torch.randn(size, 3, generator=generator),
        "action": torch.randint(0, 2, (size,), generator=generator),
        "reward": torch.randn(size, generator=generator),
        "next_state": torch.randn(size, 3, generator=generator),
        "discount": torch.full((size,), 0.99),
    }


def test_update_lowers_the_loss_on_a_fixed_batch_and_leaves_the_target_alone():
    learner = make_learner()
    target_before = [p.clone() for p in learner.target.parameters()]
    batch = batch_of()
    first = learner.update(batch)["loss"].item()
    for _ in range(50):
        last = learner.update(batch)["loss"].item()
    assert last < first
    assert all(torch.equal(a, b) for a, b in zip(target_before, learner.target.parameters()))
    learner.sync_target()
    assert all(torch.equal(a, b) for a, b in zip(learner.online.parameters(), learner.target.parameters()))


def test_soft_target_updates_move_the_target_part_way():
    learner = make_learner(target_update_tau=0.5)
    before = [p.clone() for p in learner.target.parameters()]
    learner.update(batch_of())
    for old, target, online in zip(before, learner.target.parameters(), learner.online.parameters()):
        torch.testing.assert_close(target, 0.5 * old + 0.5 * online)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_learner_state_round_trip(optimizer):
    learner = make_learner(optimizer=optimizer)
    learner.update(batch_of())
    copy = make_learner(optimizer=optimizer)
    copy.load_state_dict(learner.state_dict())
    a, b = learner.update(batch_of()), copy.update(batch_of())
    assert a["loss"].item() == b["loss"].item()


def test_importance_weights_scale_each_sample_and_td_errors_are_returned():
    online_q = torch.tensor([[1.0], [1.0]])
    args = (online_q, torch.tensor([0, 0]), torch.tensor([1.5, 1.2]), torch.tensor([0.0, 0.0]), torch.zeros(2, 1))
    loss, _, td_error = td_loss(*args, weights=torch.tensor([1.0, 0.5]))
    # errors 0.5 and 0.2 -> huber 0.125 and 0.02; weighted mean (0.125 + 0.01) / 2
    assert loss.item() == pytest.approx(0.0675)
    assert td_error.tolist() == pytest.approx([0.5, 0.2])


@pytest.mark.parametrize("changes", [{}, {"double_dqn": True, "max_grad_norm": 0.5}], ids=["plain", "double-clipped"])
def test_updates_through_the_direct_adam_step_equal_torch_optims(changes):
    """The learner's Adam steps go straight to the fused kernel and its gradient clipping to
    torch's kernels (agent/optimizer_step.py); the weights after several updates are those
    torch.optim's own step and clip_grad_norm_ give, to the bit."""
    direct, reference = make_learner(**changes), make_learner(**changes)
    reference.online.load_state_dict(direct.online.state_dict())
    reference.sync_target()
    direct.sync_target()
    assert direct.optimizer_step.direct and direct.clip_gradients.direct
    reference.optimizer_step.direct = reference.clip_gradients.direct = False
    for seed in range(6):
        batch = batch_of()
        batch["reward"] = torch.randn(8, generator=torch.Generator().manual_seed(seed))
        direct.update(batch)
        reference.update(batch)
    for ours, theirs in zip(direct.online.parameters(), reference.online.parameters()):
        assert torch.equal(ours, theirs)


def saved_as_a_captured_cuda_run_saves(state: dict) -> dict:
    """A captured run on CUDA keeps ``capturable=True`` (and Adam's fused kernel off) in its
    optimizer's saved settings, with float32 step counters."""
    for group in state["optimizer"]["param_groups"]:
        group["capturable"] = True
        if "fused" in group:
            group["fused"] = False
    for parameter_state in state["optimizer"]["state"].values():
        parameter_state["step"] = parameter_state["step"].float()
    return state


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_a_checkpoint_of_a_captured_run_resumes_on_the_cpu_with_this_runs_step(optimizer):
    """Loading puts back how this run steps: without it, the loaded ``capturable=True`` fails at
    the first update on the CPU ("If capturable=True, params and state_steps must be on
    supported devices"), and Adam loses its fused kernel."""
    saver = make_learner(optimizer=optimizer)
    saver.update(batch_of())
    resumed = make_learner(optimizer=optimizer)  # (deep copies: as from a file, no tensor shared with the saver)
    resumed.load_state_dict(saved_as_a_captured_cuda_run_saves(copy.deepcopy(saver.state_dict())))
    group = resumed.optimizer.param_groups[0]
    assert group["capturable"] is False and group.get("fused", False) == (optimizer == "adam")
    assert resumed.optimizer_step.direct == (optimizer == "adam")  # the step decided again
    for state in resumed.optimizer.state.values():
        assert state["step"].device.type == "cpu" and state["step"].dtype == torch.float32
    unchanged = make_learner(optimizer=optimizer)
    unchanged.load_state_dict(copy.deepcopy(saver.state_dict()))
    for _ in range(3):  # it trains, and exactly as a resume of the unchanged checkpoint does
        assert resumed.update(batch_of())["loss"].item() == unchanged.update(batch_of())["loss"].item()


def test_a_capturable_optimizer_keeps_its_settings_over_a_checkpoint_saved_without():
    """The reverse: a run that captures (capturable, as on CUDA) loads an eager run's
    checkpoint (fused Adam, no capturable): this run's settings stand, the counters as it keeps them."""
    from agent.learner import keep_how_the_step_runs, make_optimizer

    eager = make_learner()
    eager.update(batch_of())
    config = DQNConfig(network="mlp", optimizer="adam")
    network = build_q_network(config, (3,), 2)
    capturable = make_optimizer(config, network.parameters(), torch.device("cpu"), capturable=True)
    own = [{"capturable": True, "fused": True}]
    capturable.load_state_dict(
        eager.state_dict()["optimizer"] | {"param_groups": eager.optimizer.state_dict()["param_groups"]}
    )
    capturable.param_groups[0]["capturable"] = False  # what load_state_dict put back
    keep_how_the_step_runs(capturable, own)
    assert capturable.param_groups[0]["capturable"] is True
    for state in capturable.state.values():
        assert state["step"].dtype == torch.float32


@pytest.mark.parametrize("name", ["cuda:x", "gpu", "cuda:-1"])
def test_a_device_name_torch_does_not_know_is_refused_in_one_line(name):
    from agent.network import resolve_device

    with pytest.raises(ValueError, match="unknown device") as refused:
        resolve_device(name)
    assert "\n" not in str(refused.value)


def test_cpu_and_auto_resolve_here():
    from agent.network import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected or torch.backends.mps.is_available()


@pytest.mark.gpu
def test_a_cuda_device_comes_back_with_its_index_and_one_past_the_last_is_refused():
    from agent.network import resolve_device

    count = torch.cuda.device_count()
    assert resolve_device("cuda") == torch.device("cuda", torch.cuda.current_device())
    assert resolve_device(f"cuda:{count - 1}") == torch.device("cuda", count - 1)
    with pytest.raises(ValueError, match=f"sees {count} CUDA GPU"):
        resolve_device(f"cuda:{count}")
