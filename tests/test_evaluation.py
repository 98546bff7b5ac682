"""The shared game loop (evaluation and play.py) and evaluation's scores."""

from __future__ import annotations

import numpy as np
import torch

from agent.config import make_config
from agent.network import build_q_network
from envs import make_env
from training.evaluation import episode_steps, evaluate

CPU = torch.device("cpu")


def test_a_random_game_runs_to_its_end_and_its_rewards_add_up_to_the_score():
    env = make_env("Catcher", mode="eval", max_episode_steps=400)
    observation, _ = env.reset(seed=3)
    steps = list(episode_steps(env, observation, None, epsilon=1.0, rng=np.random.default_rng(0), device=CPU))
    env.close()
    assert [step.done for step in steps] == [False] * (len(steps) - 1) + [True]
    assert all(step.q_values is None and 0 <= step.action < env.action_space.n for step in steps)
    assert sum(step.reward for step in steps) == steps[-1].info["episode_score"]
    assert len(steps) == steps[-1].info["episode_length"]


def test_a_greedy_network_takes_the_argmax_of_the_q_values_it_reports():
    env = make_env("Catcher", mode="eval", max_episode_steps=50)
    network = build_q_network(make_config("pygame"), env.observation_space.shape, int(env.action_space.n)).eval()
    observation, _ = env.reset(seed=0)
    steps = list(episode_steps(env, observation, network, epsilon=0.0, rng=np.random.default_rng(0), device=CPU))
    env.close()
    assert len(steps) == 50 and steps[-1].done
    assert all(
        step.q_values.shape == (env.action_space.n,) and step.action == int(np.argmax(step.q_values)) for step in steps
    )


def test_evaluate_is_reproducible_and_leaves_the_network_in_training_mode():
    network = build_q_network(make_config("pygame"), (4, 84, 84), 3).train()
    first = evaluate(network, "Catcher", episodes=2, epsilon=0.05, seed=7, device=CPU, max_episode_steps=100)
    second = evaluate(network, "Catcher", episodes=2, epsilon=0.05, seed=7, device=CPU, max_episode_steps=100)
    assert first == second and len(first) == 2
    assert network.training
