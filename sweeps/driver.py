"""Drives a sweep's runs on Ray to their end: submits them, follows their states (queued,
running, finished, failed, stopped), prints the status lines, and on Ctrl-C stops every run
so that each saves."""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from analysis.results import RunRecord
from sweeps.plan import steps_done
from sweeps.progress import status_line
from sweeps.ray_runner import TASK_RETRIES, WORKER_PID_FILE, RunResources, submit

STOP_WAIT_SECONDS = 300.0


@dataclass
class SweepState:
    """Each run's state, and the error of each run that failed for good."""

    states: dict[RunRecord, str]
    errors: dict[RunRecord, str] = field(default_factory=dict)
    interrupted: bool = False

    def unfinished(self) -> list[RunRecord]:
        return [run for run, state in self.states.items() if state != "finished"]


def _outcome_state(run: RunRecord, steps: int, outcome: dict[str, Any]) -> tuple[str, str | None]:
    if outcome["exit_code"] != 0:
        return "failed", outcome.get("error") or f"train.py exited with {outcome['exit_code']}"
    return ("finished", None) if steps_done(run) >= steps else ("stopped", None)


def drive(
    ray: Any,
    sweep: SweepState,
    steps: int,
    arguments: tuple,
    resources: RunResources,
    progress_seconds: float,
) -> None:
    """Runs every unfinished run of ``sweep`` as a Ray task until all have returned, or Ctrl-C."""
    refs = {}
    for run in sweep.unfinished():
        (run.run_dir / WORKER_PID_FILE).unlink(missing_ok=True)  # appears when a worker takes the run
        refs[submit(ray, run, arguments, resources)] = run
        sweep.states[run] = "queued"
    pending, shown = list(refs), 0.0
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in ready:
                run = refs[ref]
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as error:  # retries used up: its worker kept dying
                    outcome = {"exit_code": 1, "error": f"its worker died {1 + TASK_RETRIES} times ({error!r})"}
                sweep.states[run], error_text = _outcome_state(run, steps, outcome)
                if error_text:
                    sweep.errors[run] = error_text
                    print(f"{run.run_dir.name} failed: {error_text}", file=sys.stderr, flush=True)
            for run in refs.values():
                if sweep.states[run] == "queued" and (run.run_dir / WORKER_PID_FILE).is_file():
                    sweep.states[run] = "running"
            if time.monotonic() - shown >= progress_seconds or not pending:
                shown = time.monotonic()
                print("\n".join(status_line(run, steps, state) for run, state in sweep.states.items()), flush=True)
    except KeyboardInterrupt:
        sweep.interrupted = True
        print("\nstopping: every run saves its latest.pt (this can take a minute)", file=sys.stderr, flush=True)
        for ref in pending:
            ray.cancel(ref)  # reaches train.py as SIGINT: it saves and returns
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for ref in pending:
            # a run cancelled before it started, or still saving at the deadline, raises here
            with contextlib.suppress(ray.exceptions.RayError):
                ray.get(ref, timeout=max(1.0, deadline - time.monotonic()))
            sweep.states[refs[ref]] = "stopped"
