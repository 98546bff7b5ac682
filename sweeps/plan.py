"""What a sweep runs: one ordinary run folder per game and seed, the ``train.py`` arguments
that start or resume it, and whether it is finished already."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from analysis.results import RunRecord
from training.cli import UsageError, require

DEFAULT_SWEEP_ROOT = Path("checkpoints") / "sweeps"


def add_plan_arguments(parser: argparse.ArgumentParser, folder_kind: str, default_root: Path) -> None:
    """The options that say which runs to make (games x seeds, steps, preset, overrides, where),
    shared by ``sweep.py`` and ``bench/learning.py``; ``resolve_plan`` checks their values."""
    parser.add_argument("--games", nargs="*", default=[], help="game ids, e.g. Pong Breakout CartPole")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0], help="seeds of every game (default 0)")
    parser.add_argument("--steps", type=int, help="agent steps of each run (default: the preset's total_steps)")
    parser.add_argument("--preset", help="nature, atari, pygame, snake or cartpole (default: chosen by game)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--name", help=f"the {folder_kind}'s folder name (default: the games, joined)")
    parser.add_argument("--root", type=Path, help=f"where {folder_kind}s go (default {default_root})")


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


def resolve_plan(
    games: list[str],
    seeds: list[int],
    steps: int | None,
    preset: str | None,
    overrides: list[str],
    name: str | None,
    root: Path,
) -> tuple[list[RunRecord], int, Path]:
    """Games x seeds checked before any work (``UsageError`` says what to change): the runs,
    their agent steps (default: the presets' ``total_steps``) and the folder they go in."""
    import train
    from agent.config import PRESETS, make_config, preset_for_game
    from envs import UnknownGameError, resolve_game

    require(bool(games), "say which games to train with --games, e.g. --games Pong Breakout")
    require(bool(seeds), "--seeds needs at least one seed, e.g. --seeds 0 1 2")
    require(len(set(seeds)) == len(seeds), "--seeds lists a seed twice")
    require(preset is None or preset in PRESETS, f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    try:
        canonical = list(dict.fromkeys(resolve_game(game).name for game in games))
    except UnknownGameError as error:
        raise UsageError(str(error)) from None
    name = name or "-".join(canonical)
    require(re.fullmatch(r"[A-Za-z0-9._-]+", name) is not None, f"--name {name!r}: use letters, digits, '.', '_', '-'")
    preset_of = {game: preset or preset_for_game(resolve_game(game).family, game) for game in canonical}
    if steps is None:
        steps_of = {make_config(preset_of[game]).total_steps for game in canonical}
        require(len(steps_of) == 1, "these games' presets train for different lengths; give --steps")
        steps = steps_of.pop()
    folder = root / name
    runs = [run for game in canonical for run in plan_runs([game], seeds, preset_of[game], folder)]
    for run in runs:  # each run's own command line, checked as train.py checks it
        train.resolve_run(train.parse_args(train_arguments(run, steps, overrides, preset is not None, False)))
    return runs, steps, folder
