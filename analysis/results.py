"""Tables and curves from finished (or partly finished) run folders: ``results.csv`` (every
evaluation of every run), ``summary.md`` (per game, mean and bootstrap interval over seeds;
for Atari, the human-normalized interquartile mean across games) and ``curves.png`` (one
panel per game, mean and interval across seeds against frames)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.references import is_atari_reference_game, normalized_score, published_for
from analysis.statistics import bootstrap_interval, stratified_bootstrap_interval

EVAL_TAG = "eval/mean_score"


@dataclass(frozen=True)
class RunRecord:
    """One run of a sweep: what it trained and where its folder is."""

    game: str
    seed: int
    preset: str
    run_dir: Path


def read_run_config(run_dir: Path) -> dict:
    """The ``config.json`` a run folder holds (the game and every config field), as written by train.py."""
    import json

    return json.loads((run_dir / "config.json").read_text())


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


def write_results_csv(evaluations: list[Evaluations], path: Path, random_means: dict[str, float] | None = None) -> None:
    """Every evaluation of every run, with the game's random-policy mean and the normalized score."""
    random_means = random_means or {}
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["game", "seed", "preset", "step", "frames", "eval_mean", "random_mean", "normalized"])
        for evaluation in evaluations:
            run = evaluation.run
            random = random_means.get(run.game)
            for step, frames, mean in zip(evaluation.steps, evaluation.frames, evaluation.means):
                normalized = normalized_score(run.game, float(mean))
                writer.writerow(
                    [
                        run.game, run.seed, run.preset, int(step), int(frames), f"{mean:.6g}",
                        "" if random is None else f"{random:.6g}", "" if normalized is None else f"{normalized:.6g}",
                    ]
                )  # fmt: skip


def _interval_text(values: list[float], digits: int = 1) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (one seed)"
    mean, low, high = bootstrap_interval(values)
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _by_game(evaluations: list[Evaluations]) -> dict[str, list[Evaluations]]:
    by_game: dict[str, list[Evaluations]] = {}
    for evaluation in evaluations:
        if len(evaluation.means):
            by_game.setdefault(evaluation.run.game, []).append(evaluation)
    return dict(sorted(by_game.items()))


def _frames_text(frames: int) -> str:
    return f"{frames / 1e6:g}M" if frames >= 1_000_000 else f"{frames:,}"


def _published_text(game: str) -> str:
    entries = published_for(game)
    texts = [f"{entry.source} {entry.score:g} at {_frames_text(entry.frames)} frames" for entry in entries]
    return "; ".join(texts) or "-"


def _iqm_line(label: str, normalized_by_game: dict[str, list[float]]) -> str:
    iqm, low, high = stratified_bootstrap_interval(list(normalized_by_game.values()))
    return (
        f"{label}, final score, interquartile mean over {len(normalized_by_game)} game(s) and their runs: "
        f"**{iqm:.3f}** [{low:.3f}, {high:.3f}] (stratified bootstrap, Agarwal et al. 2021)."
    )


def summary_markdown(evaluations: list[Evaluations], random_means: dict[str, float] | None = None) -> str:
    """Per game: seeds evaluated, final and best evaluation mean over seeds with 95% bootstrap
    intervals, the random policy's mean, the normalized final score and published figures;
    the interquartile mean of normalized scores across games (Atari human-normalized, our games
    reference-normalized, each apart); then every evaluation point of every game and seed."""
    random_means = random_means or {}
    by_game = _by_game(evaluations)
    lines = [
        (
            "| game | preset | seeds | last step | final evaluation | best evaluation | random policy "
            "| final, normalized | published |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    normalized_atari: dict[str, list[float]] = {}
    normalized_ours: dict[str, list[float]] = {}
    for game, runs in by_game.items():
        finals = [float(run.means[-1]) for run in runs]
        bests = [float(run.means.max()) for run in runs]
        normalized = [normalized_score(game, score) for score in finals]
        normalized_text = "-"
        if all(value is not None for value in normalized):
            (normalized_atari if is_atari_reference_game(game) else normalized_ours)[game] = normalized
            normalized_text = _interval_text(normalized, digits=3)
        presets = ", ".join(sorted({run.run.preset for run in runs}))
        last = ", ".join(sorted({f"{int(run.steps[-1]):,}" for run in runs}))
        random = f"{random_means[game]:.1f}" if game in random_means else "-"
        lines.append(
            f"| {game} | {presets} | {len(runs)} | {last} | {_interval_text(finals)} | {_interval_text(bests)} "
            f"| {random} | {normalized_text} | {_published_text(game)} |"
        )
    lines += [
        "",
        (
            "Means over seeds with 95% percentile bootstrap intervals in brackets. Normalized: "
            "(score - random) / (reference - random), with the Atari-57 random and human scores, or for our games "
            "a competent player's score (analysis/*_reference_scores.csv). Published figures are at the frames "
            "they name, not at this table's."
        ),
    ]
    if normalized_atari:
        lines.append(_iqm_line("Atari, human-normalized", normalized_atari))
    if normalized_ours:
        lines.append(_iqm_line("Our games, reference-normalized", normalized_ours))
    for game, runs in by_game.items():
        lines += ["", f"### {game}: evaluation means", ""]
        lines += [
            "| step | frames | " + " | ".join(f"seed {run.run.seed}" for run in runs) + " | mean over seeds |",
            "| --- | --- | " + " | ".join("---" for _ in runs) + " | --- |",
        ]
        for step in sorted(set().union(*(run.steps.tolist() for run in runs))):
            cells, values, frames = [], [], 0
            for run in runs:
                where = np.flatnonzero(run.steps == step)
                if len(where):
                    values.append(float(run.means[where[0]]))
                    frames = int(run.frames[where[0]])
                    cells.append(f"{values[-1]:.1f}")
                else:
                    cells.append("")
            mean = _interval_text(values) if len(values) == len(runs) else "-"
            lines.append(f"| {step:,} | {frames:,} | " + " | ".join(cells) + f" | {mean} |")
        if game in random_means:
            lines.append(f"\nRandom policy, measured the same way: {random_means[game]:.2f}.")
    return "\n".join(lines) + "\n"


def plot_curves(evaluations: list[Evaluations], path: Path, random_means: dict[str, float] | None = None) -> None:
    """One panel per game: each seed's evaluations, and the mean over seeds with its 95%
    bootstrap interval at the steps every seed reached; the random policy's mean dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    random_means = random_means or {}
    by_game = _by_game(evaluations)
    games = list(by_game) or ["(no evaluations yet)"]
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
        if game in random_means:
            axis.axhline(random_means[game], color="grey", linestyle="--", label="random policy")
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


def write_report(runs: list[RunRecord], folder: Path, random_means: dict[str, float] | None = None) -> list[Path]:
    """Writes ``results.csv``, ``summary.md`` and ``curves.png`` into ``folder``."""
    evaluations = [read_evaluations(run, frame_skip_of(run)) for run in runs]
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "results.csv", folder / "summary.md", folder / "curves.png"]
    write_results_csv(evaluations, written[0], random_means)
    written[1].write_text(summary_markdown(evaluations, random_means))
    plot_curves(evaluations, written[2], random_means)
    return written
