"""The statistics of results tables: IQM, bootstrap intervals (plain and stratified by game),
human-normalized scores and their reference data."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.references import atari_reference_scores, human_normalized, normalized_score, our_games_reference_scores
from analysis.statistics import bootstrap_interval, interquartile_mean, stratified_bootstrap_interval
from envs import list_games


def test_interquartile_mean_is_the_mean_of_the_middle_half():
    assert interquartile_mean([1, 2, 3, 4, 5, 6, 7, 100]) == pytest.approx(np.mean([3, 4, 5, 6]))
    # 6 values: the middle half spans 1.5 to 4.5 of them, so the cut ones count by half
    assert interquartile_mean([0, 10, 20, 30, 40, 50]) == pytest.approx((0.5 * 10 + 20 + 30 + 0.5 * 40) / 3)
    assert interquartile_mean([7.0]) == 7.0
    with pytest.raises(ValueError):
        interquartile_mean([])


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_runs():
    rng = np.random.default_rng(0)
    few, many = rng.normal(10, 2, size=5), rng.normal(10, 2, size=200)
    point, low, high = bootstrap_interval(few)
    assert low <= point <= high and point == pytest.approx(few.mean())
    _, many_low, many_high = bootstrap_interval(many)
    assert many_high - many_low < (high - low) / 2
    assert bootstrap_interval(few, seed=3) == bootstrap_interval(few, seed=3)  # reproducible


def test_stratified_bootstrap_keeps_each_games_number_of_runs():
    # resampling within games keeps three runs of the first game and one of the second, so
    # the mean of every resample is (0 + 0 + 0 + 100) / 4
    point, low, high = stratified_bootstrap_interval([[0.0, 0.0, 0.0], [100.0]], statistic=np.mean)
    assert point == low == high == 25.0
    unstratified = bootstrap_interval([0.0, 0.0, 0.0, 100.0])
    assert unstratified[1] < 25.0 < unstratified[2]


def test_human_normalized_scores_use_the_reference_table():
    assert human_normalized("Breakout", 1.7) == pytest.approx(0.0)
    assert human_normalized("Breakout", 30.5) == pytest.approx(1.0)
    assert human_normalized("Pong", 20.0) == pytest.approx((20 + 20.7) / (14.6 + 20.7))
    assert human_normalized("CartPole", 200.0) is None
    table = atari_reference_scores()
    assert len(table) == 57 and set(table) <= set(list_games())
    assert all(human != random for random, human in table.values())


def test_summary_reports_atari_games_human_normalized_with_their_iqm(tmp_path):
    from analysis.results import Evaluations, RunRecord, summary_markdown

    def evaluations(game: str, seed: int, means: list[float]) -> Evaluations:
        steps = np.array([1000, 2000])
        return Evaluations(
            RunRecord(game, seed, "atari", tmp_path / f"{game}-{seed}"), steps, steps * 4, np.array(means)
        )

    runs = [
        evaluations("Breakout", 0, [1.7, 30.5]),  # human-normalized final: 1.0
        evaluations("Breakout", 1, [5.0, 1.7]),  # 0.0, best 5.0
        evaluations("Pong", 0, [-21.0, -20.7]),  # 0.0
        evaluations("CartPole", 0, [20.0, 200.0]),  # ours: reference-normalized, in its own IQM
        evaluations("MadeUpGame", 0, [1.0, 2.0]),  # no reference at all
    ]
    summary = summary_markdown(runs, random_means={"Breakout": 1.5})
    assert "| Breakout | atari | 2 | 2,000 | 16.1 [" in summary  # final evaluations 30.5 and 1.7
    breakout_row = next(line for line in summary.splitlines() if line.startswith("| Breakout |"))
    assert "| 1.5 |" in breakout_row and "Nature DQN 401.2 at 50M frames" in breakout_row
    cartpole_normalized = (200.0 - 22.0) / (500.0 - 22.0)
    one_seed = "200.0 (one seed)"
    row = f"| CartPole | atari | 1 | 2,000 | {one_seed} | {one_seed} | - | {cartpole_normalized:.3f} (one seed)"
    assert row in summary
    assert "| MadeUpGame | atari | 1 | 2,000 | 2.0 (one seed) | 2.0 (one seed) | - | - | - |" in summary
    atari_line = next(line for line in summary.splitlines() if "interquartile mean over 2 game(s)" in line)
    assert atari_line.startswith("Atari, human-normalized")
    assert f"**{interquartile_mean([1.0, 0.0, 0.0]):.3f}**" in atari_line
    ours_line = next(line for line in summary.splitlines() if line.startswith("Our games"))
    assert f"**{cartpole_normalized:.3f}**" in ours_line and "over 1 game(s)" in ours_line
    # every evaluation point of every seed, and the mean where all seeds have one
    breakout_points = summary[summary.index("### Breakout") :].split("###")[1].splitlines()
    assert "| step | frames | seed 0 | seed 1 | mean over seeds |" in breakout_points
    assert any(line.startswith("| 2,000 | 8,000 | 30.5 | 1.7 | 16.1 [") for line in breakout_points)
    assert "Random policy, measured the same way: 1.50." in breakout_points


def test_our_games_are_normalized_against_their_reference_scores():
    table = our_games_reference_scores()
    assert {"Catcher", "FlappyBird", "Pixelcopter", "PLEPong", "Snake", "CartPole"} <= set(table)
    assert all(reference > random for random, reference in table.values())
    random, reference = table["Snake"]
    assert normalized_score("Snake", random) == pytest.approx(0.0)
    assert normalized_score("Snake", reference) == pytest.approx(1.0)
    assert normalized_score("Breakout", 30.5) == human_normalized("Breakout", 30.5)
    assert normalized_score("MadeUpGame", 1.0) is None
