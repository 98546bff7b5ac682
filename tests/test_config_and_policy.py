"""The config (Nature defaults, presets, overrides) and the exploration policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agent.config import PRESETS, DQNConfig, make_config, parse_override, preset_for_game
from agent.network import MLP
from agent.policy import LinearSchedule, act, act_for_training, epsilon_greedy


def test_defaults_are_the_nature_papers():
    config = DQNConfig()
    assert (config.discount, config.batch_size, config.replay_capacity) == (0.99, 32, 1_000_000)
    assert (config.epsilon_start, config.epsilon_end, config.epsilon_decay_steps, config.eval_epsilon) == (
        1.0,
        0.1,
        1_000_000,
        0.05,
    )
    assert (config.target_update_period_steps, config.update_period_steps, config.learning_starts) == (
        10_000,
        4,
        50_000,
    )
    assert (config.optimizer, config.learning_rate, config.double_dqn) == ("rmsprop", 2.5e-4, False)
    assert make_config("nature") == config


def test_presets_are_chosen_by_game_family():
    atari = make_config("atari")
    assert preset_for_game("atari") == "atari"
    assert (atari.optimizer, atari.learning_rate, atari.optimizer_eps) == ("adam", 1e-4, 1e-8)  # CleanRL's
    assert (atari.target_update_period_steps, atari.learning_starts, atari.double_dqn) == (1_000, 80_000, False)
    assert preset_for_game("pygame") == "pygame" and make_config("pygame").cnn_channels == (16, 32, 32)
    assert preset_for_game("state") == "cartpole" and make_config("cartpole").network == "mlp"
    for name in PRESETS:
        assert DQNConfig.from_dict(make_config(name).to_dict()) == make_config(name)  # survives a checkpoint


def test_snake_has_its_own_preset_the_pygame_one_with_a_shorter_horizon():
    assert preset_for_game("pygame", "Snake") == "snake" and preset_for_game("pygame", "Catcher") == "pygame"
    assert make_config("snake") == make_config("pygame", discount=0.9)


def test_overrides_are_typed_and_unknown_fields_named():
    config = DQNConfig()
    assert parse_override("learning_rate=1e-4", config) == ("learning_rate", 1e-4)
    assert parse_override("target-update-period-steps=8000", config) == ("target_update_period_steps", 8000)
    assert parse_override("double_dqn=true", config) == ("double_dqn", True)
    assert parse_override("cnn_channels=16,32,32", config) == ("cnn_channels", (16, 32, 32))
    with pytest.raises(ValueError, match="Did you mean learning_rate"):
        parse_override("learning_rat=1", config)
    with pytest.raises(ValueError, match="takes a whole number"):
        parse_override("batch_size=many", config)
    with pytest.raises(ValueError, match="takes a whole number"):
        parse_override("batch_size=1.5", config)
    assert parse_override("total_steps=1e6", config) == ("total_steps", 1_000_000)
    with pytest.raises(ValueError, match="unknown config field"):
        DQNConfig.from_dict({"no_such_field": 1})


def test_linear_schedule():
    schedule = LinearSchedule(1.0, 0.1, 1_000_000)
    assert schedule(0) == 1.0
    assert schedule(500_000) == pytest.approx(0.55)
    assert schedule(1_000_000) == pytest.approx(0.1) and schedule(5_000_000) == pytest.approx(0.1)


def test_epsilon_greedy_explores_at_the_asked_rate_and_is_reproducible():
    q = torch.zeros(10_000, 4)
    q[:, 2] = 1.0
    actions = epsilon_greedy(q, 0.2, np.random.default_rng(0))
    off_greedy = np.mean(actions != 2)
    assert off_greedy == pytest.approx(0.2 * 3 / 4, abs=0.015)  # a random pick is the greedy one a quarter of the time
    np.testing.assert_array_equal(actions, epsilon_greedy(q, 0.2, np.random.default_rng(0)))
    assert (epsilon_greedy(q, 0.0, np.random.default_rng(1)) == 2).all()


class CountingMLP(MLP):
    """A real MLP that counts its forward passes."""

    calls = 0

    def forward(self, states):
        self.calls += 1
        return super().forward(states)


def test_act_for_training_matches_act_and_skips_the_network_when_all_explore():
    network = CountingMLP(3, 5, hidden_sizes=(8,))
    observations = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    device = torch.device("cpu")
    for seed in range(20):
        expected, _ = act(network, observations, 0.5, np.random.default_rng(seed), device)
        got = act_for_training(network, observations, 5, 0.5, np.random.default_rng(seed), device)
        np.testing.assert_array_equal(got, expected)
    network.calls = 0
    actions = act_for_training(network, observations, 5, 1.0, np.random.default_rng(0), device)
    assert network.calls == 0 and actions.shape == (6,) and ((0 <= actions) & (actions < 5)).all()
    act_for_training(network, observations, 5, 0.0, np.random.default_rng(0), device)
    assert network.calls == 1
