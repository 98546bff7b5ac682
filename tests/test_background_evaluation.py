"""Evaluation beside training: the same games and scores as a synchronous evaluation, played
on a copy of the weights while the caller goes on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agent.checkpoint import load_checkpoint
from agent.config import make_config
from agent.network import build_q_network
from tests.commands import run_script
from training.background_evaluation import BackgroundEvaluator, EvaluationJob
from training.evaluation import PlaySettings, evaluate

CPU = torch.device("cpu")
SETTINGS = PlaySettings(epsilon=0.05, max_episode_steps=300, sticky_actions=False)


def test_scores_match_a_synchronous_evaluation_of_the_weights_at_submission():
    network = build_q_network(make_config("pygame"), (4, 84, 84), 3)
    expected = evaluate(network, "Catcher", SETTINGS, episodes=2, seed=11, device=CPU)
    evaluator = BackgroundEvaluator("Catcher", SETTINGS, episodes=2, device=CPU)
    try:
        copy = build_q_network(make_config("pygame"), (4, 84, 84), 3)
        copy.load_state_dict(network.state_dict())
        evaluator.submit(EvaluationJob(step=500, seed=11, network=copy, checkpoint_state={"at": 500}))
        # the caller goes on at once: the games are still playing
        assert evaluator.finished() == [] and evaluator.pending_steps == [500]
        with torch.no_grad():  # the learner changes its own weights meanwhile; the copy is untouched
            for parameter in network.parameters():
                parameter.add_(1.0)
        (result,) = evaluator.finished(wait=True)
    finally:
        evaluator.close()
    assert result.step == 500 and result.scores == expected and result.checkpoint_state == {"at": 500}
    assert evaluator.pending_steps == []


def test_evaluations_come_back_in_the_order_asked_and_errors_reach_the_caller():
    network = build_q_network(make_config("pygame"), (4, 84, 84), 3)
    evaluator = BackgroundEvaluator("Catcher", SETTINGS, episodes=1, device=CPU)
    try:
        for step in (100, 200, 300):
            evaluator.submit(EvaluationJob(step=step, seed=step, network=network, checkpoint_state={}))
        assert [result.step for result in evaluator.finished(wait=True)] == [100, 200, 300]
    finally:
        evaluator.close()
    broken = BackgroundEvaluator("NoSuchGame", SETTINGS, episodes=1, device=CPU)
    try:
        broken.submit(EvaluationJob(step=1, seed=0, network=network, checkpoint_state={}))
        with pytest.raises(Exception, match="NoSuchGame"):
            broken.finished(wait=True)
    finally:
        broken.close()


def scalars_by_step(run_dir, tag: str) -> dict[int, float]:
    rows = [line.split(",") for line in (run_dir / "scalars.csv").read_text().splitlines()[1:]]
    return {int(step): float(value) for _, step, name, value in rows if name == tag}


def test_a_run_evaluated_beside_training_logs_and_keeps_what_a_pausing_run_does(tmp_path):
    common = [
        "--game", "CartPole", "--steps", "2500", "--seed", "5", "--device", "cpu", "--quiet",
        "--set", "eval_every_steps=500", "--set", "eval_episodes=3", "--set", "log_every_steps=500",
    ]  # fmt: skip
    runs = {}
    for background in (True, False):
        run_dir = tmp_path / f"background-{background}"
        flag = f"evaluate_in_background={str(background).lower()}"
        result = run_script("train.py", *common, "--set", flag, "--run-dir", str(run_dir))
        assert result.returncode == 0, result.stderr
        runs[background] = run_dir
    beside, pausing = (scalars_by_step(runs[b], "eval/mean_score") for b in (True, False))
    assert sorted(beside) == [500, 1000, 1500, 2000, 2500] and beside == pausing
    best = {b: load_checkpoint(runs[b] / "best.pt") for b in (True, False)}
    best_step = max(pausing, key=lambda step: (pausing[step], -step))  # the first of the best scores
    for b in (True, False):
        assert best[b]["progress"]["agent_step"] == best_step
        assert best[b]["progress"]["best_eval_score"] == pytest.approx(
            pausing[best_step], rel=1e-5
        )  # the CSV keeps 6 digits
    for name, weights in best[False]["learner"]["online"].items():
        assert torch.equal(weights, best[True]["learner"]["online"][name]), name
    latest = {b: load_checkpoint(runs[b] / "latest.pt") for b in (True, False)}
    for name, weights in latest[False]["learner"]["online"].items():
        assert torch.equal(weights, latest[True]["learner"]["online"][name]), name
    assert np.isclose(latest[True]["progress"]["best_eval_score"], max(pausing.values()))
