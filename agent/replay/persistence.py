"""A replay memory on disk: a compressed ``.npz`` written atomically and read without pickles."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from agent.checkpoint import CheckpointError, atomic_write

if TYPE_CHECKING:
    from agent.replay.memory import ReplayMemory

SAVED_ARRAYS = ("actions", "rewards", "terminated", "truncated", "has_transition", "frames_written")


def save_memory(memory: ReplayMemory, path: Path, **metadata: Any) -> None:
    """Writes everything needed to resume sampling exactly to a compressed ``.npz``, streamed
    array by array and renamed into place atomically; ``metadata`` (plain values) is stored
    beside it and returned by ``load_memory``."""
    arrays = {name: getattr(memory, name) for name in SAVED_ARRAYS}
    arrays["frames"] = memory.frames.cpu().numpy()
    arrays.update(memory.priority_arrays())
    info = {"rng_state": memory.rng_state(), "max_priority": float(memory.max_priority), **metadata}
    arrays["metadata"] = np.array(json.dumps(info))
    atomic_write(Path(path), lambda file: np.savez_compressed(file, **arrays))


def load_memory(memory: ReplayMemory, path: Path) -> dict[str, Any]:
    """Restores a memory written by ``save_memory`` (no pickles are read); returns its metadata."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            if tuple(saved["frames"].shape) != tuple(memory.frames.shape):
                raise CheckpointError(
                    f"{path} holds a replay memory of shape {tuple(saved['frames'].shape)}, "
                    f"this run's is {tuple(memory.frames.shape)}"
                )
            info = json.loads(str(saved["metadata"]))
            memory.frames.copy_(torch.from_numpy(saved["frames"]))
            for name in SAVED_ARRAYS:
                getattr(memory, name)[...] = saved[name]
            memory.restore_priority_arrays(saved)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"{path} is not a readable replay memory ({type(error).__name__}); "
            "resume without --save-replay to start with an empty one"
        ) from error
    memory.restore_rng_state(info.pop("rng_state"))
    memory.max_priority = float(info.pop("max_priority"))
    memory.after_load()
    return info
