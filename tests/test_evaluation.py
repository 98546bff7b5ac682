"""The one game loop (evaluation and play.py) and evaluation's scores."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from agent.config import make_config
from agent.network import build_q_network
from envs.games.base import DISPLAY_SCALE
from training.evaluation import PlaySettings, evaluate, play_games

CPU = torch.device("cpu")
GREEDY_SHORT = PlaySettings(epsilon=0.0, max_episode_steps=50, sticky_actions=False)


def test_random_games_run_to_their_end_and_rewards_add_up_to_each_score():
    settings = PlaySettings(epsilon=1.0, max_episode_steps=400, sticky_actions=False)
    steps = list(play_games("Catcher", None, settings, episodes=2, seed=3, device=None))
    for episode in (1, 2):
        game = [step for step in steps if step.episode == episode]
        assert [step.done for step in game] == [False] * (len(game) - 1) + [True]
        assert all(step.q_values is None and 0 <= step.action < 3 for step in game)
        assert sum(step.reward for step in game) == game[-1].score == game[-1].info["episode_score"]
        assert len(game) == game[-1].info["episode_length"]


def test_a_greedy_network_takes_the_argmax_of_the_q_values_it_reports():
    network = build_q_network(make_config("pygame"), (4, 84, 84), 3).eval()
    steps = list(play_games("Catcher", network, GREEDY_SHORT, episodes=1, seed=0, device=CPU))
    assert len(steps) == 50 and steps[-1].done  # cut where the settings say
    assert all(step.q_values.shape == (3,) and step.action == int(np.argmax(step.q_values)) for step in steps)


def test_rendered_games_hand_over_each_screen_once():
    steps = list(play_games("Catcher", None, GREEDY_SHORT, episodes=1, seed=0, device=None, render=True))
    assert steps[0].frame.shape == (64 * DISPLAY_SCALE, 64 * DISPLAY_SCALE, 3)  # drawn for people
    for before, after in itertools.pairwise(steps):
        assert after.frame is before.next_frame  # the screen after one step is the next step's
    assert steps[-1].next_frame is not None


def test_evaluate_is_reproducible_and_leaves_the_network_in_training_mode():
    network = build_q_network(make_config("pygame"), (4, 84, 84), 3).train()
    settings = PlaySettings(epsilon=0.05, max_episode_steps=100, sticky_actions=False)
    first = evaluate(network, "Catcher", settings, episodes=2, seed=7, device=CPU)
    second = evaluate(network, "Catcher", settings, episodes=2, seed=7, device=CPU)
    assert first == second and len(first) == 2
    assert network.training


def test_settings_come_from_the_runs_config():
    config = make_config("atari", eval_epsilon=0.01, eval_max_episode_steps=123, sticky_actions=True)
    assert PlaySettings.from_config(config) == PlaySettings(0.01, 123, True)
