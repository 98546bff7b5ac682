"""Where a run's replay memory lives, decided before it is allocated: on the learner's GPU
when ``replay_on_device`` says so (``auto``: when the GPU has room for it), else in RAM; and
refused, in one line, where neither holds it."""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from agent.config import DQNConfig
from agent.replay import ReplayMemory

# ``auto`` puts the memory on the GPU only where it takes at most this share of the room
# there, leaving the rest to the networks, the batches and cuDNN's workspaces
GPU_SHARE_FOR_REPLAY = 0.8
# a memory is refused where it would take more than this share of the RAM or GPU memory free
MOST_OF_WHAT_IS_FREE = 0.9


class ReplayDoesNotFit(Exception):
    """The replay memory is larger than the memory free where it would live."""


@dataclass(frozen=True)
class ReplayPlacement:
    on_learner_device: bool
    needed_bytes: int
    reason: str
    """One line for the run's output: where the memory lives, and why."""


def free_ram_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def free_gpu_bytes(device: torch.device) -> int:
    """Bytes a new allocation can take on ``device``: what the driver has free, plus what
    PyTorch's caching allocator holds there without using it (this process gives that out first)."""
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


@contextlib.contextmanager
def gpu_room_lock(device: torch.device) -> Iterator[None]:
    """Held from the room check until the memory is allocated, so that runs starting together
    on one GPU (a sweep with ``--gpus-per-run 0.25``) do not each count the same free memory.
    A file lock per GPU (by its UUID, whatever ``CUDA_VISIBLE_DEVICES`` numbers it); nothing
    off CUDA."""
    if device.type != "cuda":
        yield
        return
    uuid = str(torch.cuda.get_device_properties(device).uuid)
    path = Path(tempfile.gettempdir()) / f"arcade-dqn-gpu-{uuid}.lock"
    with open(path, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def place_replay(
    config: DQNConfig, observation_shape: tuple[int, ...], bytes_per_value: int, device: torch.device
) -> ReplayPlacement:
    """Where the memory of ``config.replay_capacity`` transitions goes on this machine; raises
    ``ReplayDoesNotFit`` (its message says what to do) where it cannot go there."""
    needed = ReplayMemory.estimate_bytes(config.replay_capacity, observation_shape, bytes_per_value)
    size = f"{needed / 1e9:.1f} GB"
    if config.replay_on_device == "true":
        on_device, why = True, "replay_on_device=true"
    elif config.replay_on_device == "false":
        on_device, why = False, "replay_on_device=false"
    elif device.type != "cuda":
        on_device, why = False, f"the learner is on the {device.type.upper()}"
    else:
        free = free_gpu_bytes(device)
        on_device = needed < GPU_SHARE_FOR_REPLAY * free
        verdict = "has room" if on_device else "has too little room"
        why = f"replay_on_device=auto: {device} has {free / 1e9:.1f} GB free, {verdict}"
    if on_device and device.type == "cuda":
        available, where, otherwise = free_gpu_bytes(device), "GPU memory", " or --set replay_on_device=false"
    else:
        available, where, otherwise = free_ram_bytes(), "RAM", ""
    if available is not None and needed > MOST_OF_WHAT_IS_FREE * available:
        fits = int(GPU_SHARE_FOR_REPLAY * available / (needed / config.replay_capacity)) // 1000 * 1000
        raise ReplayDoesNotFit(
            f"the replay memory needs {size} but only {available / 1e9:.1f} GB of {where} is free; "
            f"use --replay-size {fits} (or less){otherwise}"
        )
    place = f"on {device}" if on_device else "in RAM"
    return ReplayPlacement(on_device, needed, f"replay memory {place} ({size}; {why})")
