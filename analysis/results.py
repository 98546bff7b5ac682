"""Tables and curves from finished (or partly finished) run folders: ``results.csv`` (every
evaluation of every run), ``summary.md`` (per game, mean and bootstrap interval over seeds;
for Atari, the human-normalized interquartile mean across games) and ``curves.png`` (one
panel per game, mean and interval across seeds against frames)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.statistics import bootstrap_interval, human_normalized, stratified_bootstrap_interval

EVAL_TAG = "eval/mean_score"


@dataclass(frozen=True)
class RunRecord:
    """One run of a sweep: what it trained and where its folder is."""

    game: str
    seed: int
    preset: str
    run_dir: Path


@dataclass(frozen=True)
class Evaluations:
    """A run's evaluation means, by agent step (and frames, with the game's frame skip)."""

    run: RunRecord
    steps: np.ndarray
    frames: np.ndarray
    means: np.ndarray


def read_evaluations(run: RunRecord, frame_skip: int) -> Evaluations:
    """The evaluation means a run logged (``scalars.csv``); none yet gives empty arrays."""
    steps, means = [], []
    path = run.run_dir / "scalars.csv"
    if path.is_file():
        with open(path, newline="") as file:
            for row in csv.DictReader(file):
                if row["tag"] == EVAL_TAG:
                    steps.append(int(row["step"]))
                    means.append(float(row["value"]))
    steps_array = np.array(steps, dtype=np.int64)
    return Evaluations(run, steps_array, steps_array * frame_skip, np.array(means, dtype=np.float64))


def frame_skip_of(run: RunRecord) -> int:
    from envs import resolve_game

    return resolve_game(run.game).frame_skip


def write_results_csv(evaluations: list[Evaluations], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["game", "seed", "preset", "step", "frames", "eval_mean"])
        for evaluation in evaluations:
            run = evaluation.run
            for step, frames, mean in zip(evaluation.steps, evaluation.frames, evaluation.means):
                writer.writerow([run.game, run.seed, run.preset, int(step), int(frames), f"{mean:.6g}"])


def _interval_text(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f} (one seed)"
    mean, low, high = bootstrap_interval(values)
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"


def summary_markdown(evaluations: list[Evaluations]) -> str:
    """Per game: seeds evaluated, final and best evaluation mean over seeds with 95% bootstrap
    intervals; below, the human-normalized IQM across the Atari games (stratified bootstrap)."""
    by_game: dict[str, list[Evaluations]] = {}
    for evaluation in evaluations:
        if len(evaluation.means):
            by_game.setdefault(evaluation.run.game, []).append(evaluation)
    lines = [
        "| game | preset | seeds | last step | final evaluation | best evaluation | final, human-normalized |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    normalized_by_game: dict[str, list[float]] = {}
    for game, runs in sorted(by_game.items()):
        finals = [float(run.means[-1]) for run in runs]
        bests = [float(run.means.max()) for run in runs]
        normalized = [human_normalized(game, score) for score in finals]
        normalized_text = "-"
        if all(value is not None for value in normalized):
            normalized_by_game[game] = normalized
            normalized_text = _interval_text(normalized)
        presets = ", ".join(sorted({run.run.preset for run in runs}))
        last = ", ".join(sorted({f"{int(run.steps[-1]):,}" for run in runs}))
        lines.append(
            f"| {game} | {presets} | {len(runs)} | {last} | {_interval_text(finals)} | {_interval_text(bests)} "
            f"| {normalized_text} |"
        )
    lines += ["", "Means over seeds with 95% percentile bootstrap intervals in brackets."]
    if normalized_by_game:
        iqm, low, high = stratified_bootstrap_interval(list(normalized_by_game.values()))
        lines.append(
            f"Atari, human-normalized final score, interquartile mean over {len(normalized_by_game)} game(s) and "
            f"their runs: **{iqm:.3f}** [{low:.3f}, {high:.3f}] (stratified bootstrap, Agarwal et al. 2021)."
        )
    return "\n".join(lines) + "\n"


def plot_curves(evaluations: list[Evaluations], path: Path) -> None:
    """One panel per game: each seed's evaluations, and the mean over seeds with its 95%
    bootstrap interval at the steps every seed reached."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_game: dict[str, list[Evaluations]] = {}
    for evaluation in evaluations:
        if len(evaluation.means):
            by_game.setdefault(evaluation.run.game, []).append(evaluation)
    games = sorted(by_game) or ["(no evaluations yet)"]
    figure, axes = plt.subplots(1, len(games), figsize=(5 * len(games), 3.8), dpi=100, squeeze=False)
    for axis, game in zip(axes[0], games):
        runs = by_game.get(game, [])
        for run in runs:
            axis.plot(run.frames, run.means, ".-", alpha=0.3, label=f"seed {run.run.seed}")
        if len(runs) > 1:
            shared = sorted(set.intersection(*(set(run.steps.tolist()) for run in runs)))
            if shared:
                rows = [run.means[np.searchsorted(run.steps, shared)] for run in runs]
                intervals = np.array([bootstrap_interval(column) for column in np.array(rows).T])
                frames = runs[0].frames[np.searchsorted(runs[0].steps, shared)]
                axis.plot(frames, intervals[:, 0], color="black", label=f"mean of {len(runs)} seeds")
                axis.fill_between(frames, intervals[:, 1], intervals[:, 2], color="black", alpha=0.15, label="95% CI")
        axis.set_title(game)
        axis.set_xlabel("frames")
        axis.set_ylabel("evaluation mean score")
        axis.grid(alpha=0.3)
        if runs:
            axis.legend(loc="best", fontsize=7)
    figure.tight_layout()
    temporary = path.with_suffix(".tmp.png")
    figure.savefig(temporary)
    plt.close(figure)
    temporary.replace(path)


def write_report(runs: list[RunRecord], folder: Path) -> list[Path]:
    """Writes ``results.csv``, ``summary.md`` and ``curves.png`` into ``folder``."""
    evaluations = [read_evaluations(run, frame_skip_of(run)) for run in runs]
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "results.csv", folder / "summary.md", folder / "curves.png"]
    write_results_csv(evaluations, written[0])
    written[1].write_text(summary_markdown(evaluations))
    plot_curves(evaluations, written[2])
    return written
