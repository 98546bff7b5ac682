"""sweep.py on a real local Ray: runs finish as ordinary run folders, a second sweep skips
them, a killed worker's run is retried and resumes from its checkpoint, Ctrl-C saves every
run, the local Ray listens on loopback only, and bad input is one line with exit code 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.checkpoint import load_checkpoint
from tests.commands import ROOT, run_script

QUICK = ["--set", "eval_every_steps=1000", "--set", "eval_episodes=2", "--set", "checkpoint_every_steps=500"]


def sweep(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_script("sweep.py", *args, timeout=timeout)


def start_sweep(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "sweep.py"), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_until(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.2)


def checkpoint_step(run_dir: Path) -> int:
    try:
        return int(load_checkpoint(run_dir / "latest.pt")["progress"]["agent_step"])
    except Exception:  # noqa: BLE001 -- not written yet, or being replaced this instant
        return 0


def test_two_runs_finish_are_summarised_and_a_second_sweep_skips_them(tmp_path):
    args = ["--games", "CartPole", "--seeds", "0", "1", "--steps", "2000", "--root", str(tmp_path), "--name", "s"]
    first = sweep(*args, *QUICK)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "s"
    for seed in (0, 1):
        run_dir = folder / f"CartPole-seed{seed}"
        assert checkpoint_step(run_dir) == 2000
        assert (run_dir / "best.pt").is_file() and (run_dir / "tensorboard").is_dir()  # an ordinary run folder
    summary = (folder / "summary.md").read_text()
    assert "| CartPole | cartpole | 2 | 2,000 |" in summary
    rows = (folder / "results.csv").read_text().splitlines()
    assert rows[0] == "game,seed,preset,step,frames,eval_mean,random_mean,normalized"
    assert {row.split(",")[1] for row in rows[1:]} == {"0", "1"} and len(rows) == 1 + 2 * 2
    assert (folder / "curves.png").stat().st_size > 10_000
    before = (folder / "CartPole-seed0" / "latest.pt").stat().st_mtime_ns
    second = sweep(*args, *QUICK, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "2 runs, 2 finished already" in second.stdout and "Ray is up" not in second.stdout
    assert (folder / "CartPole-seed0" / "latest.pt").stat().st_mtime_ns == before


@pytest.mark.slow  # a minute each: run by `pytest -m slow` (and CI)
def test_a_killed_worker_is_retried_and_its_run_resumes_from_its_checkpoint(tmp_path):
    run_dir = tmp_path / "k" / "CartPole-seed0"
    process = start_sweep("--games", "CartPole", "--steps", "6000", "--root", str(tmp_path), "--name", "k", *QUICK)
    try:
        wait_until(lambda: checkpoint_step(run_dir) >= 1000 and (run_dir / "worker.pid").is_file())
        victim = int((run_dir / "worker.pid").read_text())
        os.kill(victim, signal.SIGKILL)
        killed_at = checkpoint_step(run_dir)
        _, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert int((run_dir / "worker.pid").read_text()) != victim  # a new worker took the run over
    log = (run_dir / "train.log").read_text()
    assert log.count("$ python train.py --game CartPole") == 1  # started once...
    assert "$ python train.py --resume" in log and "resuming CartPole" in log  # ...and resumed after the kill
    assert checkpoint_step(run_dir) == 6000 and killed_at < 6000
    resumed_part = log.split("resuming CartPole")[1]
    assert "step 500/" not in resumed_part  # the step counter went on, it did not start over


@pytest.mark.slow  # a minute each: run by `pytest -m slow` (and CI)
def test_ctrl_c_stops_every_run_with_a_checkpoint_and_says_how_to_resume(tmp_path):
    args = ["--games", "CartPole", "--seeds", "0", "1", "--steps", "200000", "--root", str(tmp_path), "--name", "c"]
    process = start_sweep(*args, *QUICK)
    runs = [tmp_path / "c" / f"CartPole-seed{seed}" for seed in (0, 1)]
    try:
        wait_until(lambda: all(checkpoint_step(run) >= 500 for run in runs))
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "resume with: python sweep.py --games CartPole" in stdout
    for run in runs:
        assert "stopped (interrupted)" in (run / "train.log").read_text()
        assert 500 <= checkpoint_step(run) < 200_000


def test_the_local_ray_listens_on_loopback_only():
    from sweeps.ray_runner import start_ray

    ray = start_ray(None)
    try:
        nodes = ray.nodes()
        assert [node["NodeManagerAddress"] for node in nodes] == ["127.0.0.1"]
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        listening = subprocess.run(["ss", "-Hltnp"], check=True, capture_output=True, text=True).stdout.splitlines()
        ray_sockets = [line for line in listening if any(name in line for name in ("raylet", "gcs_server", "ray::"))]
        assert ray_sockets, "ss should show Ray's own listening sockets"
        loopback = ("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:")
        assert all(line.split()[3].startswith(loopback) for line in ray_sockets), ray_sockets
    finally:
        ray.shutdown()


def test_bad_input_gets_one_line_and_exit_code_2(tmp_path):
    cases = {
        "unknown game": (["--games", "Pnog"], "Did you mean Pong"),
        "no seeds": (["--games", "CartPole", "--seeds"], "--seeds needs at least one seed"),
        "no games": (["--seeds", "0"], "say which games"),
        "unreachable cluster": (["--games", "CartPole", "--address", "127.0.0.1:9"], "no Ray cluster answers"),
        "bad override": (["--games", "CartPole", "--set", "discount=2"], "discount must be between 0 and 1"),
        "not a number": (["--games", "CartPole", "--steps", "many"], "invalid int value"),
    }
    for label, (args, message) in cases.items():
        result = sweep(*args, "--root", str(tmp_path), timeout=120)
        assert result.returncode == 2, (label, result.stderr)
        assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, (label, result.stderr)
        assert message in result.stderr, (label, result.stderr)
