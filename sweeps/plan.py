"""What a sweep runs: one ordinary run folder per game and seed, the ``train.py`` arguments
that start or resume it, and whether it is finished already."""

from __future__ import annotations

from pathlib import Path

from analysis.results import RunRecord

DEFAULT_SWEEP_ROOT = Path("checkpoints") / "sweeps"


def plan_runs(games: list[str], seeds: list[int], preset: str, folder: Path) -> list[RunRecord]:
    """One run per game (canonical name) and seed, in ``folder/GAME-seedN``."""
    return [RunRecord(game, seed, preset, folder / f"{game}-seed{seed}") for game in games for seed in seeds]


def steps_done(run: RunRecord) -> int:
    """Agent steps in the run's ``latest.pt`` (0 before its first checkpoint)."""
    from agent.checkpoint import CheckpointError, load_checkpoint

    path = run.run_dir / "latest.pt"
    if not path.is_file():
        return 0
    try:
        return int(load_checkpoint(path)["progress"]["agent_step"])
    except CheckpointError:
        return 0  # a torn first write: the run starts over


def train_arguments(
    run: RunRecord, steps: int, overrides: list[str], preset_given: bool, save_replay: bool
) -> list[str]:
    """``train.py`` arguments that continue the run from ``latest.pt`` where it has one, or start it."""
    sets = [part for text in overrides for part in ("--set", text)] + (["--save-replay"] if save_replay else [])
    if (run.run_dir / "latest.pt").is_file():
        return ["--resume", str(run.run_dir), "--steps", str(steps), "--quiet", *sets]
    preset = ["--preset", run.preset] if preset_given else []
    return [
        "--game", run.game, "--seed", str(run.seed), "--steps", str(steps), "--run-dir", str(run.run_dir),
        "--quiet", *preset, *sets,
    ]  # fmt: skip
