"""Agent throughput: replay sample batches/s, gradient updates/s (batch 32, Nature CNN and
the narrower pygame-preset CNN), the replay memory's cost per transition at 1M capacity, and
the learner's gradient clipping beside torch's ``clip_grad_norm_`` (taking turns).

    python bench/agent_throughput.py [--seconds 5] [--device auto]

Prints the device name with every figure; on a GPU machine run it there too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agent.config import DQNConfig, make_config
from agent.learner import DQNLearner
from agent.network import build_q_network, resolve_device
from agent.optimizer_step import GradientNormClip
from agent.replay import DeviceReplayMemory, ReplayMemory

OBSERVATION_SHAPE = (4, 84, 84)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def filled_replay(
    capacity: int, num_streams: int, device: torch.device, fill: int, *, on_device: bool = False
) -> ReplayMemory:
    """A memory written like a vector env would write it (``on_device``: ``DeviceReplayMemory``)."""
    if on_device:
        memory = DeviceReplayMemory(capacity, num_streams, OBSERVATION_SHAPE, device=device, seed=0)
    else:
        memory = ReplayMemory(capacity, num_streams, OBSERVATION_SHAPE, device=device, seed=0)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (num_streams, *OBSERVATION_SHAPE), dtype=np.uint8)
    for stream in range(num_streams):
        memory.start_episode(stream, obs[stream])
    first = np.zeros(num_streams, bool)
    for _ in range(fill // num_streams):
        done = rng.random(num_streams) < 0.001
        memory.add_vector_step(
            rng.integers(0, 6, num_streams),
            rng.normal(size=num_streams).astype(np.float32),
            done,
            np.zeros(num_streams, bool),
            obs,
            first,
        )
    return memory


def device_memory_batches_per_second(device: torch.device, fill: int, seconds: float) -> float:
    """Batches of 32 per second that a 1M ``DeviceReplayMemory`` on ``device`` draws."""
    on_device = filled_replay(1_000_000, 4, device, fill, on_device=True)
    return rate(seconds, lambda: on_device.sample(32), device)


def release_device_memory(device: torch.device) -> None:
    """Frees what finished measurements held (a replay memory on a GPU: 7 GB), for the next ones."""
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def rate(seconds: float, work, device: torch.device | None = None) -> float:
    """Calls of ``work`` per second; on a CUDA ``device`` each call waits for its kernels."""
    synchronize = device is not None and device.type == "cuda"
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        if synchronize:
            torch.cuda.synchronize(device)
        count += 1
    return count / (time.perf_counter() - start)


def updates_per_second(config: DQNConfig, memory: ReplayMemory, device: torch.device, seconds: float) -> float:
    learner = DQNLearner(build_q_network(config, OBSERVATION_SHAPE, 6), config, device)
    batch = memory.sample(config.batch_size)
    for _ in range(3):
        learner.update(batch)

    def work():
        learner.update(memory.sample(config.batch_size))
        if device.type == "cuda":
            torch.cuda.synchronize()

    return rate(seconds, work)


def layout_updates_per_second(
    memory: ReplayMemory, device: torch.device, seconds: float, rounds: int = 3
) -> dict[str, float]:
    """Updates/s of the atari preset's Nature CNN with its input channels-last and its weights
    channels-last too or not, and on CUDA with ``torch.backends.cudnn.benchmark`` on and off:
    every variant takes turns ``rounds`` times."""
    config = make_config("atari").replace(batch_size=32)
    benchmark_settings = [False, True] if device.type == "cuda" else [torch.backends.cudnn.benchmark]
    learners = {}
    for benchmark in benchmark_settings:
        for weights_too in (True, False):
            learner = DQNLearner(build_q_network(config, OBSERVATION_SHAPE, 6), config, device)
            layout = torch.channels_last if weights_too else torch.contiguous_format
            for network in (learner.online, learner.target):
                network.to(memory_format=layout)
            label = f"weights {'channels-last' if weights_too else 'NCHW'}, input channels-last"
            if device.type == "cuda":
                label += f", cudnn.benchmark {'on' if benchmark else 'off'}"
            learners[label] = (benchmark, learner)
    updates = dict.fromkeys(learners, 0.0)
    for _ in range(rounds):
        for label, (benchmark, learner) in learners.items():
            torch.backends.cudnn.benchmark = benchmark
            batch = memory.sample(32)
            for _ in range(3):  # (cudnn.benchmark picks its algorithms at the first calls)
                learner.update(batch)
            step = lambda learner=learner: learner.update(memory.sample(32))
            updates[label] += rate(seconds / rounds, step, device) / rounds
    torch.backends.cudnn.benchmark = False
    return updates


def clipping_microseconds(device: torch.device, seconds: float, rounds: int = 3) -> tuple[float, float]:
    """Microseconds per call of ``torch.nn.utils.clip_grad_norm_`` and of the learner's
    ``GradientNormClip`` on the Nature CNN's gradients (max norm 10, the nature preset's),
    taking turns ``rounds`` times so the machine's slow moments fall on both."""
    parameters = list(build_q_network(DQNConfig(), OBSERVATION_SHAPE, 6).to(device).parameters())
    for parameter in parameters:
        parameter.grad = torch.randn_like(parameter)
    direct = GradientNormClip(parameters, 10.0)
    calls = {"torch": lambda: nn.utils.clip_grad_norm_(parameters, 10.0), "direct": direct}
    microseconds = dict.fromkeys(calls, 0.0)
    for _ in range(rounds):
        for name, call in calls.items():
            microseconds[name] += 1e6 / rate(seconds / rounds, call, device) / rounds
    return microseconds["torch"], microseconds["direct"]


def plain_nature_cnn(num_actions: int, device: torch.device) -> nn.Sequential:
    """The Nature CNN as CleanRL writes it: an NCHW ``nn.Sequential`` on frames scaled to [0, 1]."""
    return nn.Sequential(
        nn.Conv2d(4, 32, 8, stride=4),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3136, 512),
        nn.ReLU(),
        nn.Linear(512, num_actions),
    ).to(device)


def plain_pytorch_updates_per_second(memory: ReplayMemory, device: torch.device, seconds: float) -> float:
    """The reference the README compares against: a CleanRL-style update (an NCHW
    nn.Sequential Nature CNN, PyTorch's default Adam, max-target Q-learning), on the same batches."""
    online, target = plain_nature_cnn(6, device), plain_nature_cnn(6, device)
    optimizer = torch.optim.Adam(online.parameters(), lr=1e-4)

    def work():
        batch = memory.sample(32)
        with torch.no_grad():
            next_value = target(batch["next_state"].float() / 255.0).max(dim=1).values
            td_target = batch["reward"] + batch["discount"] * next_value
        taken = online(batch["state"].float() / 255.0).gather(1, batch["action"].long().unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(taken, td_target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):
        work()
    return rate(seconds, work)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fill", type=int, default=50_000, help="transitions written before sampling")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.fill < 100:
        parser.error("--seconds must be positive and --fill at least 100")
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    name = device_name(device)

    memory = filled_replay(1_000_000, 4, device, args.fill)
    print(f"device: {name}")
    print(
        f"replay memory at 1M capacity: {memory.bytes_per_transition:,.0f} bytes per transition "
        f"({memory.nbytes / 1e9:.2f} GB in all; the naive layout of two 4-frame stacks: "
        f"{2 * np.prod(OBSERVATION_SHAPE) * 1e6 / 1e9:.1f} GB)"
    )
    print(
        f"replay sample, batch 32 (CPU storage -> {device.type}): "
        f"{rate(args.seconds, lambda: memory.sample(32)):,.0f} batches/s"
    )
    print(
        f"replay sample, batch 32 (DeviceReplayMemory: stored and sampled on {device.type}): "
        f"{device_memory_batches_per_second(device, args.fill, args.seconds):,.0f} batches/s"
    )
    release_device_memory(device)  # (its 7 GB on a GPU)
    print(
        "gradient updates/s, batch 32, plain PyTorch reference (CleanRL-style Nature CNN, default Adam): "
        f"{plain_pytorch_updates_per_second(memory, device, args.seconds):,.1f}  [{name}]"
    )
    torch_clip, direct_clip = clipping_microseconds(device, args.seconds)
    print(
        f"gradient clipping, Nature CNN (max norm 10): clip_grad_norm_ {torch_clip:,.0f} µs, "
        f"the learner's GradientNormClip {direct_clip:,.0f} µs a call  [{name}]"
    )
    configs = [
        ("Nature CNN (nature preset, RMSprop)", DQNConfig()),
        ("Nature CNN, Adam (atari preset)", make_config("atari")),
        ("narrow CNN 16/32/32-256 (pygame preset)", make_config("pygame")),
    ]
    if device.type == "cuda":
        captured = make_config("atari", captured_update=True)
        configs.append(("Nature CNN, atari preset, captured as a CUDA graph", captured))
    for label, config in configs:
        config = config.replace(batch_size=32)
        print(
            f"gradient updates/s, batch 32, {label}: "
            f"{updates_per_second(config, memory, device, args.seconds):,.1f}  [{name}]"
        )
    for label, updates in layout_updates_per_second(memory, device, args.seconds).items():
        print(f"gradient updates/s, batch 32, Nature CNN (atari preset), {label}: {updates:,.1f}  [{name}]")


if __name__ == "__main__":
    main()
