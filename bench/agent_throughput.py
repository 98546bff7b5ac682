"""Agent throughput: replay sample batches/s, gradient updates/s (batch 32, Nature CNN and
the narrower pygame-preset CNN), and the replay memory's cost per transition at 1M capacity.

    python bench/agent_throughput.py [--seconds 5] [--device auto]

Prints the device name with every figure; on a GPU machine run it there too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from agent.config import DQNConfig, make_config  # noqa: E402
from agent.learner import DQNLearner  # noqa: E402
from agent.network import build_q_network, resolve_device  # noqa: E402
from agent.replay import ReplayMemory  # noqa: E402

OBSERVATION_SHAPE = (4, 84, 84)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def filled_replay(capacity: int, num_streams: int, device: torch.device, fill: int, storage_device: str = "cpu") -> ReplayMemory:
    memory = ReplayMemory(capacity, num_streams, OBSERVATION_SHAPE, device=device, storage_device=storage_device, seed=0)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (num_streams, *OBSERVATION_SHAPE), dtype=np.uint8)
    for stream in range(num_streams):
        memory.start_episode(stream, obs[stream])
    first = np.zeros(num_streams, bool)
    for _ in range(fill // num_streams):
        done = rng.random(num_streams) < 0.001
        memory.add_vector_step(rng.integers(0, 6, num_streams), rng.normal(size=num_streams).astype(np.float32), done, np.zeros(num_streams, bool), obs, first)
    return memory


def rate(seconds: float, work) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fill", type=int, default=50_000, help="transitions written before sampling")
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = device_name(device)

    memory = filled_replay(1_000_000, 4, device, args.fill)
    print(f"device: {name}")
    print(f"replay memory at 1M capacity: {memory.bytes_per_transition:,.0f} bytes per transition "
          f"({memory.nbytes / 1e9:.2f} GB in all; the naive layout of two 4-frame stacks: {2 * np.prod(OBSERVATION_SHAPE) * 1e6 / 1e9:.1f} GB)")
    print(f"replay sample, batch 32 (CPU storage -> {device.type}): {rate(args.seconds, lambda: memory.sample(32)):,.0f} batches/s")
    if device.type == "cuda":
        on_device = filled_replay(1_000_000, 4, device, args.fill, storage_device=str(device))
        print(f"replay sample, batch 32 (storage on {device.type}): {rate(args.seconds, lambda: on_device.sample(32)):,.0f} batches/s")
    for label, config in (("Nature CNN (nature preset, RMSprop)", DQNConfig()), ("Nature CNN, Double DQN + Adam (atari preset)", make_config("atari")), ("narrow CNN 16/32/32-256 (pygame preset)", make_config("pygame"))):
        config = config.replace(batch_size=32)
        print(f"gradient updates/s, batch 32, {label}: {updates_per_second(config, memory, device, args.seconds):,.1f}  [{name}]")


if __name__ == "__main__":
    main()
