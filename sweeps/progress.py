"""One status line per run of a sweep, read from the run folders themselves (``scalars.csv``
is appended as a run trains), so it works alike for local and cluster runs on a shared disk."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from analysis.results import RunRecord

TAIL_BYTES = 64 * 1024
SCORE_OVER_GAMES = 20


def latest_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """The newest rows of ``scalars.csv`` by tag (only its last 64 KB are read)."""
    path = run_dir / "scalars.csv"
    if not path.is_file():
        return {}
    with open(path, "rb") as file:
        size = file.seek(0, io.SEEK_END)
        file.seek(max(0, size - TAIL_BYTES))
        text = file.read().decode("utf-8", errors="replace")
    lines = text.splitlines()[1:] if size > TAIL_BYTES else text.splitlines()  # a cut first line, or the header
    found: dict[str, list[tuple[int, float]]] = {}
    for row in csv.reader(lines):
        if len(row) == 4 and row[1].isdigit():
            try:
                found.setdefault(row[2], []).append((int(row[1]), float(row[3])))
            except ValueError:
                continue
    return found


def status_line(run: RunRecord, steps: int, state: str) -> str:
    """``Pong-seed0  step 12,000/2,000,000  score -20.1  eval -19.5  95 steps/s  running``."""
    scalars = latest_scalars(run.run_dir)
    step = max((rows[-1][0] for rows in scalars.values() if rows), default=0)
    scores = [value for _, value in scalars.get("episode/score", [])[-SCORE_OVER_GAMES:]]
    speed = scalars.get("train/steps_per_second", [])
    evaluation = scalars.get("eval/mean_score", [])
    parts = [f"{run.run_dir.name:<24}", f"step {step:>11,}/{steps:,}"]
    parts.append(f"score {sum(scores) / len(scores):7.1f}" if scores else "score       -")
    parts.append(f"eval {evaluation[-1][1]:7.1f}" if evaluation else "eval       -")
    parts.append(f"{speed[-1][1]:7,.0f} steps/s" if speed and state == "running" else " " * 15)
    return "  ".join([*parts, state])
