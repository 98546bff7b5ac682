"""Replay saves, side by side in one run: the folder format's save after ``--new`` transitions
into a full memory (what a ``--save-replay`` checkpoint costs, every ``checkpoint_every_steps``)
against the earlier whole-memory save (every array into one ``np.savez_compressed`` file,
single-threaded, as ``replay.npz`` was written), and the load of each.

    python bench/replay_save.py [--capacity 1000000] [--new 100000] [--rounds 2] [--folder /tmp]

The frames are Pong's own (random play through our pipeline, then repeated to fill the
memory), so that they compress as a game's do. Each round times both saves of the same memory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from agent.checkpoint import atomic_write, numpy_rng_state
from agent.replay import ReplayMemory
from agent.replay.persistence import BOOKKEEPING_ARRAYS

NUM_STREAMS = 4
OBSERVATION_SHAPE = (4, 84, 84)


def pong_frames(count: int) -> np.ndarray:
    """``count`` stacked observations of random Pong play (4 envs), in the order played."""
    from envs import make_vec_env

    env = make_vec_env("Pong", NUM_STREAMS, mode="train")
    rng = np.random.default_rng(0)
    observations = []
    try:
        env.reset(seed=0)
        while len(observations) * NUM_STREAMS < count:
            observation, *_ = env.step(rng.integers(0, env.single_action_space.n, NUM_STREAMS))
            observations.append(observation)
    finally:
        env.close()
    return np.concatenate(observations)[:count]


class Writer:
    """Writes vector steps into a memory from a recorded film of observations, looping over it."""

    def __init__(self, memory: ReplayMemory, film: np.ndarray) -> None:
        self.memory, self.film, self.position = memory, film, 0
        self.rng = np.random.default_rng(1)
        for stream in range(NUM_STREAMS):
            memory.start_episode(stream, film[stream])

    def write(self, transitions: int) -> None:
        nothing_new = np.zeros(NUM_STREAMS, bool)
        for _ in range(transitions // NUM_STREAMS):
            start = self.position % (len(self.film) - NUM_STREAMS)
            self.position += NUM_STREAMS
            self.memory.add_vector_step(
                self.rng.integers(0, 6, NUM_STREAMS),
                self.rng.choice([-1.0, 0.0, 0.0, 0.0, 1.0], NUM_STREAMS).astype(np.float32),
                self.rng.random(NUM_STREAMS) < 0.0003,
                nothing_new,
                self.film[start : start + NUM_STREAMS],
                nothing_new,
            )


def whole_save(memory: ReplayMemory, path: Path) -> None:
    """The earlier format, as it was written: every array into one compressed ``.npz``."""
    arrays = {name: getattr(memory, name) for name in BOOKKEEPING_ARRAYS}
    arrays["frames"] = memory.frames.cpu().numpy()
    info = {"rng_state": numpy_rng_state(memory.rng), "max_priority": float(memory.max_priority)}
    arrays["metadata"] = np.array(json.dumps(info))
    atomic_write(path, lambda file: np.savez_compressed(file, **arrays))


def seconds_of(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def size_of(path: Path) -> int:
    return sum(item.stat().st_size for item in path.iterdir()) if path.is_dir() else path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacity", type=int, default=1_000_000, help="replay capacity (1M: about 7 GB of RAM)")
    parser.add_argument("--new", type=int, default=100_000, help="transitions written between two saves")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()), help="where the saves go")
    args = parser.parse_args()
    if args.capacity < 1_000 or not 0 < args.new <= args.capacity or args.rounds < 1:
        parser.error("--capacity must be at least 1000, --new between 1 and --capacity, --rounds at least 1")
    if not args.folder.is_dir():
        parser.error(f"--folder {args.folder} is not a folder")

    memory = ReplayMemory(args.capacity, NUM_STREAMS, OBSERVATION_SHAPE, seed=0)
    writer = Writer(memory, pong_frames(20_000))
    writer.write(args.capacity)  # full
    work = Path(tempfile.mkdtemp(prefix="replay-save-bench-", dir=args.folder))
    print(
        f"replay memory of {args.capacity:,} transitions ({memory.nbytes / 1e9:.1f} GB), {NUM_STREAMS} streams, "
        f"Pong frames; a save after {args.new:,} new transitions; saves in {work}"
    )
    print(f"{'round':<6} {'what':<58} {'seconds':>8} {'on disk':>10}")
    try:
        folder = work / "replay"
        memory.save(folder)  # the first save of a run writes every chunk
        for round_number in range(1, args.rounds + 1):
            writer.write(args.new)
            incremental = seconds_of(lambda: memory.save(folder))
            whole = seconds_of(lambda: whole_save(memory, work / "replay.npz"))
            rows = [
                ("folder format, the chunks changed since the last save", incremental, folder),
                ("earlier format, the whole memory (np.savez_compressed)", whole, work / "replay.npz"),
            ]
            for what, seconds, path in rows:
                print(f"{round_number:<6} {what:<58} {seconds:8.1f} {size_of(path) / 1e6:7,.0f} MB", flush=True)
            print(f"{round_number:<6} {'save: whole / folder format':<58} {whole / incremental:7.1f}x", flush=True)
        loaded = memory  # loaded into again: the earlier format reads its frames whole first, and needs the room
        print(f"{'':<6} {'load, folder format (checksums checked)':<58} {seconds_of(lambda: loaded.load(folder)):8.1f}")
        print(
            f"{'':<6} {'load, earlier format':<58} {seconds_of(lambda: loaded.load(work / 'replay.npz')):8.1f}",
            flush=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
