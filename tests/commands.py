"""Running the command lines as a user does (a real subprocess from the repo root), and
running a shell script where it may mount a small tmpfs (a real full disk)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_script(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS`` from the repo root (``train.py``, ``play.py``, ``sweep.py``)."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _mount_namespace_prefix() -> list[str] | None:
    """A new mount namespace (as root), or a user namespace too (as anyone else); ``None``
    where neither lets a tmpfs be mounted."""
    prefixes = [["unshare", "--mount", "--propagation", "private"], ["unshare", "--map-root-user", "--mount"]]
    for prefix in prefixes if os.geteuid() == 0 else prefixes[1:]:
        probe = subprocess.run(
            [*prefix, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt && umount /mnt"],
            check=False,
            capture_output=True,
        )
        if probe.returncode == 0:
            return prefix
    return None


def run_with_a_small_disk(tmp_path: Path, script: str, timeout: float, **variables: str) -> Path:
    """Runs the shell ``script`` with ``$DISK`` (an empty folder the script mounts its tmpfs on),
    ``$OUT`` (a folder on the real disk, returned, for what the script keeps), ``$PYTHON`` and
    ``variables``; skips the test, saying why, where no tmpfs can be mounted."""
    prefix = _mount_namespace_prefix()
    if prefix is None:
        pytest.skip("no tmpfs can be mounted here: neither a mount namespace nor a user namespace is allowed")
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    env = {**os.environ, "DISK": str(disk), "OUT": str(out), "PYTHON": sys.executable, **variables}
    subprocess.run([*prefix, "sh", "-c", script], check=True, timeout=timeout, cwd=ROOT, env=env)
    return out
