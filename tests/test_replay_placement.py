"""Where the replay memory lives, and why, decided before it is allocated."""

from __future__ import annotations

import pytest
import torch

from agent.config import make_config
from training.replay_placement import ReplayDoesNotFit, free_gpu_bytes, place_replay

FRAMES = (4, 84, 84)


@pytest.mark.parametrize(
    ("setting", "on_device", "why"),
    [
        ("true", True, "replay_on_device=true"),
        ("false", False, "replay_on_device=false"),
        ("auto", False, "the learner is on the CPU"),
    ],
)
def test_the_placement_says_where_and_why(setting, on_device, why):
    config = make_config("atari", replay_capacity=10_000, replay_on_device=setting)
    placement = place_replay(config, FRAMES, 1, torch.device("cpu"))
    assert placement.on_learner_device == on_device and why in placement.reason
    assert placement.reason.startswith("replay memory on cpu" if on_device else "replay memory in RAM")
    assert "0.1 GB" in placement.reason  # 10,000 transitions of about 7 KB


def test_a_memory_larger_than_the_ram_free_is_refused_with_a_size_that_fits():
    config = make_config("atari", replay_capacity=10**11)
    with pytest.raises(ReplayDoesNotFit, match=r"use --replay-size \d+") as refused:
        place_replay(config, FRAMES, 1, torch.device("cpu"))
    assert "\n" not in str(refused.value)


@pytest.mark.gpu
def test_on_a_gpu_the_room_counts_pytorchs_cache_as_free():
    device = torch.device("cuda", torch.cuda.current_device())
    torch.cuda.empty_cache()
    held = torch.empty(2 * 1024**3, dtype=torch.uint8, device=device)
    del held  # now cached by PyTorch, not free to the driver
    driver_free, _ = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    assert cached >= 2 * 1024**3 and free_gpu_bytes(device) >= driver_free + 2 * 1024**3 - 64 * 1024**2
    capacity = int(0.7 * free_gpu_bytes(device) / 7_067)  # 70% of the room counted so: auto takes it
    placement = place_replay(make_config("atari", replay_capacity=capacity), FRAMES, 1, device)
    assert placement.on_learner_device and "has room" in placement.reason
    torch.cuda.empty_cache()
