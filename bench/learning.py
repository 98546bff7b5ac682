"""The learning-results harness: train games x seeds for a step budget, then report them the
way the field does.

    python bench/learning.py --games Breakout Pong --seeds 0 1 2 --steps 500000 [--preset atari]
        [--set FIELD=VALUE ...] [--name NAME] [--root DIR] [--hours H] [--save-replay]
        [--random-episodes 20] [--include RUN_DIR ...] [--report-only]

Runs are ordinary run folders (``ROOT/NAME/GAME-seedN``, the layout ``sweep.py`` uses, so a
sweep's folder can be reported too), trained one after the other by ``train.py``. Running the
same command again skips finished runs and resumes the others from their ``latest.pt``, so a
long budget is done in parts (``--hours`` bounds one invocation; ``--save-replay`` keeps each
run's replay memory across the parts). ``--include`` adds run folders trained elsewhere (a
``train.py`` run) to the report. Then, in ``ROOT/NAME``:

- ``results.csv``: every evaluation of every run (game, seed, step, frames, mean), with the
  random policy's mean measured the same way and the normalized score;
- ``summary.md``: per game, final and best evaluation over seeds with 95% bootstrap intervals,
  the random policy, the normalized score and the published figures (with their frames); the
  interquartile mean of normalized scores across games with its stratified bootstrap interval;
  and every evaluation point, per seed and averaged;
- ``curves.png``: evaluation mean against frames, every seed, the mean over seeds with its 95%
  interval, and the random policy.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from analysis.random_policy import RANDOM_EPISODES
from sweeps.plan import add_plan_arguments
from training.cli import CommandLineParser, UsageError, report_usage_error, require

DEFAULT_ROOT = Path("checkpoints") / "learning"
INCLUDED_PRESET = "run folder"


def parse_args(argv: list[str] | None):
    parser = CommandLineParser(description="Train games x seeds and report learning results (tables, curves, IQM).")
    add_plan_arguments(parser, "results folder", DEFAULT_ROOT)
    parser.add_argument("--hours", type=float, help="wall-clock budget of this invocation; run it again to go on")
    parser.add_argument("--save-replay", action="store_true", help="keep each run's replay memory across parts")
    parser.add_argument(
        "--random-episodes", type=int, default=RANDOM_EPISODES, help="games of the random-policy baseline"
    )
    parser.add_argument("--include", nargs="*", type=Path, default=[], help="run folders trained elsewhere")
    parser.add_argument("--report-only", action="store_true", help="train nothing; report what the runs hold")
    return parser.parse_args(argv)


def included_run(run_dir: Path):
    """A run folder made by ``train.py`` elsewhere, as a ``RunRecord`` (game and seed from its config)."""
    from analysis.results import RunRecord, read_run_config

    require(
        (run_dir / "config.json").is_file(), f"--include {run_dir}: no config.json there; give a train.py run folder"
    )
    config = read_run_config(run_dir)
    return RunRecord(config["game"], int(config["seed"]), INCLUDED_PRESET, run_dir)


def resolve(args):
    """(planned runs, included runs, steps, folder), checked before any work."""
    from sweeps.plan import resolve_plan

    require(args.random_episodes >= 1, "--random-episodes must be at least 1")
    require(args.hours is None or args.hours > 0, "--hours must be positive")
    included = [included_run(path) for path in args.include]
    if not args.games:
        require(bool(included), "say which games to train with --games, or report run folders with --include")
        name = args.name or "-".join(dict.fromkeys(run.game for run in included))
        return [], included, 0, (args.root or DEFAULT_ROOT) / name
    runs, steps, folder = resolve_plan(
        args.games, args.seeds, args.steps, args.preset, args.overrides, args.name, args.root or DEFAULT_ROOT
    )
    return runs, included, steps, folder


def train_runs(runs, steps: int, args) -> bool:
    """Trains each unfinished run with ``train.py`` in turn; False when stopped early (time, Ctrl-C)."""
    from sweeps.plan import steps_done, train_arguments

    deadline = time.monotonic() + args.hours * 3600 if args.hours is not None else None
    for run in runs:
        if steps_done(run) >= steps:
            print(f"{run.game} seed {run.seed}: finished already ({run.run_dir})", flush=True)
            continue
        arguments = train_arguments(run, steps, args.overrides, args.preset is not None, args.save_replay)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 60:
                return False
            arguments += ["--hours", f"{left / 3600:.4f}"]
        print(f"{run.game} seed {run.seed}: python train.py {' '.join(arguments)}", flush=True)
        try:
            code = subprocess.run([sys.executable, str(ROOT_DIR / "train.py"), *arguments], check=False).returncode
        except KeyboardInterrupt:  # train.py got the Ctrl-C too, and saves
            return False
        if code != 0 or steps_done(run) < steps:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        runs, included, steps, folder = resolve(args)
    except UsageError as error:
        return report_usage_error(error)

    from analysis.random_policy import random_policy_means_of_runs
    from analysis.results import write_report

    finished = True
    if runs and not args.report_only:
        print(f"results folder {folder}: {len(runs)} runs of {steps:,} agent steps", flush=True)
        finished = train_runs(runs, steps, args)
    reported = runs + included
    print(f"random policy: {args.random_episodes} games of each game, measured as its runs evaluate", flush=True)
    random_means = random_policy_means_of_runs(reported, folder, args.random_episodes)
    written = write_report(reported, folder, random_means)
    print(f"results: {', '.join(str(path) for path in written)}", flush=True)
    if not finished:
        print(
            f"not finished; continue with: python bench/learning.py {' '.join(sys.argv[1:] if argv is None else argv)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
