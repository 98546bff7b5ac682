"""bench/learning.py, the learning-results harness, on a tiny budget: CartPole and Catcher, two
seeds each, trained for real; the table, the curves and the interquartile mean come out, a
second invocation resumes instead of starting over, and bad input is one line, exit code 2."""

from __future__ import annotations

import csv
import json

import numpy as np
from PIL import Image

from analysis.references import normalized_score
from analysis.statistics import interquartile_mean
from tests.commands import run_script

TINY = [
    "--set", "eval_every_steps=500", "--set", "eval_episodes=2", "--set", "eval_max_episode_steps=200",
    "--set", "checkpoint_every_steps=500", "--random-episodes", "4",
]  # fmt: skip


def harness(*args: str, timeout: float = 300):
    return run_script("bench/learning.py", *args, timeout=timeout)


def test_tiny_budget_gives_the_table_curves_and_iqm_then_resumes(tmp_path):
    common = ["--seeds", "0", "1", "--root", str(tmp_path), "--name", "tiny", *TINY]
    first = harness("--games", "CartPole", "Catcher", "--steps", "1000", *common)
    assert first.returncode == 0, first.stderr[-2000:]
    folder = tmp_path / "tiny"

    with open(folder / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert {(row["game"], row["seed"]) for row in rows} == {
        (game, seed) for game in ("CartPole", "Catcher") for seed in ("0", "1")
    }
    assert sorted({int(row["step"]) for row in rows}) == [500, 1000] and len(rows) == 8
    catcher = [row for row in rows if row["game"] == "Catcher"]
    assert {int(row["frames"]) for row in catcher} == {1000, 2000}  # frame skip 2: frames on the x axis
    baseline = json.loads((folder / "random_policy.json").read_text())
    assert len(baseline["Catcher"]["scores"]) == 4 and baseline["Catcher"]["settings"]["max_episode_steps"] == 200
    for row in rows:
        assert float(row["random_mean"]) == np.mean(baseline[row["game"]]["scores"])
        assert float(row["normalized"]) == float(f"{normalized_score(row['game'], float(row['eval_mean'])):.6g}")

    summary = (folder / "summary.md").read_text()
    finals = {
        game: [float(row["eval_mean"]) for row in rows if row["game"] == game and row["step"] == "1000"]
        for game in ("CartPole", "Catcher")
    }
    normalized = [normalized_score(game, score) for game, scores in finals.items() for score in scores]
    iqm_line = next(line for line in summary.splitlines() if line.startswith("Our games, reference-normalized"))
    assert f"**{interquartile_mean(normalized):.3f}** [" in iqm_line and "over 2 game(s)" in iqm_line
    for game in ("CartPole", "Catcher"):
        row = next(line for line in summary.splitlines() if line.startswith(f"| {game} |"))
        assert f"| 2 | 1,000 | {np.mean(finals[game]):.1f} [" in row
        assert f"| {np.mean(baseline[game]['scores']):.1f} |" in row
        assert f"### {game}: evaluation means" in summary
    curves = Image.open(folder / "curves.png")
    assert curves.size[0] >= 2 * curves.size[1]  # one panel per game, side by side
    assert len(np.unique(np.asarray(curves.convert("L")))) > 20  # drawn, not blank

    again = harness("--games", "CartPole", "--steps", "1500", *common)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("--resume") == 2 and "--game CartPole" not in again.stdout
    with open(folder / "results.csv", newline="") as file:
        steps = {int(row["step"]) for row in csv.DictReader(file) if row["game"] == "CartPole"}
    assert steps == {500, 1000, 1500}


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    for args in (
        ["--games", "Pnog", "--steps", "10"],
        ["--games", "CartPole", "--seeds"],
        ["--games", "CartPole", "--random-episodes", "0"],
        ["--games", "CartPole", "--hours", "-1"],
        ["--include", str(tmp_path)],
        [],
    ):
        result = harness(*args, "--root", str(tmp_path), timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was trained or written
