"""Train many runs at once, games x seeds, on Ray: ``python sweep.py --games Pong Breakout --seeds 0 1 2``.

Each run is an ordinary run folder (``checkpoints/sweeps/NAME/GAME-seedN/``) made by the same
trainer as ``train.py``, so ``play.py`` and TensorBoard work on it as they are. Running the same
sweep again skips finished runs and resumes the others from their ``latest.pt``. A worker that
dies is retried by Ray and resumes from its checkpoint; a run that fails for good is reported
once and the others go on. Ctrl-C stops every run cleanly (each saves) and says how to resume.
When runs finish: ``results.csv``, ``summary.md`` and ``curves.png`` in the sweep's folder.

By default a local Ray starts inside this process, listening on 127.0.0.1 only; ``--address``
joins a running cluster instead (see the README). Bad input gets a one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from sweeps.plan import DEFAULT_SWEEP_ROOT, add_plan_arguments
from training.cli import CommandLineParser, UsageError, report_usage_error, require

PROGRESS_EVERY_SECONDS = 30.0


def parse_args(argv: list[str] | None):
    parser = CommandLineParser(description="Train games x seeds as ordinary runs, in parallel on Ray.")
    add_plan_arguments(parser, "sweep", DEFAULT_SWEEP_ROOT)
    parser.add_argument("--address", help="join a running Ray cluster: auto, HOST:PORT or ray://HOST:PORT")
    parser.add_argument("--cpus-per-run", type=float, default=1.0, help="CPU cores each run reserves (default 1)")
    parser.add_argument("--gpus-per-run", type=float, default=0.0, help="GPUs each run reserves, e.g. 0.25")
    parser.add_argument("--save-replay", action="store_true", help="save each run's replay memory with latest.pt")
    parser.add_argument("--progress-seconds", type=float, default=PROGRESS_EVERY_SECONDS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def resolve_sweep(args):
    """Everything the sweep needs, checked before Ray starts: (runs, steps, folder)."""
    from sweeps.plan import resolve_plan

    require(args.cpus_per_run > 0, "--cpus-per-run must be positive")
    require(args.gpus_per_run >= 0, "--gpus-per-run must be 0 or more")
    root = args.root or DEFAULT_SWEEP_ROOT
    return resolve_plan(args.games, args.seeds, args.steps, args.preset, args.overrides, args.name, root)


def main(argv: list[str] | None = None) -> int:
    from sweeps.ray_runner import RayUnavailable, check_address

    args = parse_args(argv)
    try:
        runs, steps, folder = resolve_sweep(args)
        if args.address is not None:
            check_address(args.address)
    except (UsageError, RayUnavailable) as error:
        return report_usage_error(error)

    from analysis.random_policy import random_policy_means_of_runs
    from analysis.results import write_report
    from sweeps.driver import SweepState, drive
    from sweeps.plan import steps_done
    from sweeps.ray_runner import RunResources, start_ray
    from training.stop import install_stop_handlers, raise_keyboard_interrupt

    sweep = SweepState({run: "finished" if steps_done(run) >= steps else "waiting" for run in runs})
    unfinished = sweep.unfinished()
    print(f"sweep {folder}: {len(runs)} runs, {len(runs) - len(unfinished)} finished already", flush=True)
    if unfinished:
        try:
            ray = start_ray(args.address)
        except (RuntimeError, ConnectionError, ValueError) as error:
            return report_usage_error(f"Ray could not start: {error}")
        print(f"Ray is up ({'local, on 127.0.0.1' if args.address is None else args.address})", flush=True)
        install_stop_handlers(raise_keyboard_interrupt)  # also where the shell started us with SIGINT ignored
        arguments = (steps, args.overrides, args.preset is not None, args.save_replay)
        try:
            drive(
                ray, sweep, steps, arguments, RunResources(args.cpus_per_run, args.gpus_per_run), args.progress_seconds
            )
        finally:
            ray.shutdown()
    written = write_report(runs, folder, random_policy_means_of_runs(runs, folder))
    print(f"results: {', '.join(str(path) for path in written)}", flush=True)
    if len(sweep.unfinished()) > len(sweep.errors):  # some runs can go on
        print(f"resume with: python {' '.join(['sweep.py', *(argv if argv is not None else sys.argv[1:])])}")
    return 1 if sweep.errors and not sweep.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
