"""Atomic checkpoints that load with ``torch.load(..., weights_only=True)``.

A checkpoint is a dict of tensors and plain values (numbers, strings, lists, dicts) only:
RNG states are converted to those, so loading never needs to unpickle an object and never
falls back to unsafe loading. Writing goes to a temporary file in the same folder, which
is flushed, fsynced and renamed over the old one: a crash or a full disk at any moment
leaves the previous checkpoint whole.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FORMAT = "arcade-dqn/1"


class CheckpointError(Exception):
    """A checkpoint cannot be written or read; the message says what to do."""


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path: Path, write: Any) -> None:
    """Calls ``write(file)`` on a temporary file next to ``path``, then renames it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise CheckpointError(
                f"no space left on the device while saving {path}; the previous checkpoint is intact. "
                "Free some disk space or use --run-dir on another disk"
            ) from error
        if isinstance(error, OSError):
            raise CheckpointError(
                f"could not write {path}: {error.strerror or error}; the previous checkpoint is intact"
            ) from error
        raise


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Writes ``state`` (tensors and plain values) atomically, tagged with the format.

    torch's zip writer turns a failed write (a full disk) into a ``RuntimeError`` raised while
    it closes the archive, so it writes into memory and the file gets the finished bytes: a
    full disk is then an ``OSError`` of our own write, reported as such."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    atomic_write(Path(path), lambda file: file.write(buffer.getbuffer()))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True``; any problem is a ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}; give a .pt file or a run folder that holds latest.pt or best.pt"
        )
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is corrupt or not a PyTorch checkpoint (not a zip archive); "
            "use another checkpoint, e.g. the run's latest.pt or a step_*.pt"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path} holds pickled Python objects, which arcade-dqn refuses to load "
            "(only tensors and plain values are safe); it is not an arcade-dqn checkpoint"
        ) from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path} is corrupt or not a PyTorch checkpoint ({type(error).__name__}); "
            "use another checkpoint, e.g. the run's latest.pt"
        ) from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an arcade-dqn checkpoint (no '{CHECKPOINT_FORMAT}' format tag)")
    return state


def resolve_checkpoint_path(path: Path, preferred: tuple[str, ...] = ("latest.pt", "best.pt")) -> Path:
    """A checkpoint file, or the first of ``preferred`` inside a run folder."""
    path = Path(path)
    if path.is_dir():
        for name in preferred:
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"run folder {path} holds none of {', '.join(preferred)}")
    return path


def numpy_rng_state(generator: Any) -> dict[str, Any]:
    """A numpy Generator's state as plain values (PCG64's 128-bit integers as strings)."""
    state = generator.bit_generator.state
    return {
        "bit_generator": state["bit_generator"],
        "state": str(state["state"]["state"]),
        "inc": str(state["state"]["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def restore_numpy_rng(generator: Any, saved: dict[str, Any]) -> None:
    generator.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {"state": int(saved["state"]), "inc": int(saved["inc"])},
        "has_uint32": int(saved["has_uint32"]),
        "uinteger": int(saved["uinteger"]),
    }
