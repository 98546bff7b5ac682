"""Runs a sweep's runs as Ray tasks, each the ordinary ``train.py`` in a Ray worker process.

* A local Ray (no ``--address``) listens on 127.0.0.1 only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
  must be set before ray is imported (with it unset, ray 2.60 binds every port to all
  interfaces here even when given ``_node_ip_address``).
* A worker that dies (killed, out of memory, its machine lost) is a system failure: Ray runs
  the task again (``max_retries``), and the task resumes the run from its ``latest.pt``. A run
  that fails for a reason a retry cannot fix (bad config, a diverged loss) returns its error
  instead of raising, so it is reported once and not retried.
* ``ray.cancel`` (the sweep's Ctrl-C) reaches the task as SIGINT, which ``train.py`` turns into
  a clean stop: the run saves ``latest.pt`` and returns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.results import RunRecord
from sweeps.plan import train_arguments

ROOT = Path(__file__).resolve().parent.parent
TASK_RETRIES = 3
WORKER_PID_FILE = "worker.pid"
LOG_FILE = "train.log"


class RayUnavailable(Exception):
    """Ray cannot be started or reached; the message says what to do."""


@dataclass(frozen=True)
class RunResources:
    cpus: float
    gpus: float


def check_address(address: str) -> None:
    """Refuses a cluster address nobody answers at, in seconds rather than Ray's minute."""
    if address == "auto":
        if not os.environ.get("RAY_ADDRESS") and not Path("/tmp/ray/ray_current_cluster").is_file():
            raise RayUnavailable("--address auto found no running Ray cluster here; start one with `ray start --head`")
        return
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"--address {address!r} must look like HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as error:
        raise RayUnavailable(
            f"no Ray cluster answers at {address} ({error.strerror or error}); check the address and that "
            "`ray start --head` runs there"
        ) from None


def start_ray(address: str | None) -> Any:
    """A local Ray on loopback (``address`` None), or the cluster at ``address``."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    # the workers import the project from this checkout (on a cluster: the same path on each machine)
    runtime_env = {"env_vars": {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}}
    if address is None:
        ray.init(
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            runtime_env=runtime_env,
            log_to_driver=False,
            configure_logging=False,
        )
    else:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, configure_logging=False)
    return ray


@contextlib.contextmanager
def _own_signal_handlers():
    """train.py installs its Ctrl-C handlers; the worker process gets Ray's back afterwards."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def train_in_worker(run: RunRecord, arguments: tuple, cpus: float) -> dict:
    """One ``train.py`` run inside a Ray worker, started or (a retry, a second sweep) resumed
    from its ``latest.pt``; its output goes to the run's ``train.log``."""
    import torch

    import train

    argv = train_arguments(run, *arguments)
    folder = run.run_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WORKER_PID_FILE).write_text(str(os.getpid()))
    torch.set_num_threads(max(1, int(cpus)))
    with (
        open(folder / LOG_FILE, "a") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
        _own_signal_handlers(),
    ):
        print(f"$ python train.py {' '.join(argv)}", flush=True)
        exit_code = train.main(argv)
    errors = [line for line in (folder / LOG_FILE).read_text().splitlines() if line.startswith("error: ")]
    return {"exit_code": exit_code, "error": errors[-1].removeprefix("error: ") if exit_code and errors else None}


def submit(ray: Any, run: RunRecord, arguments: tuple, resources: RunResources) -> Any:
    """Starts one run as a Ray task (``arguments``: those of ``train_arguments`` after the run);
    returns its object ref."""
    task = ray.remote(train_in_worker).options(
        num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=TASK_RETRIES, retry_exceptions=False
    )
    return task.remote(run, arguments, resources.cpus)
