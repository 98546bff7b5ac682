"""Environment throughput: raw ALE against our single-env pipeline and our vector path, and
raw frames per second of each pygame game, all measured in one run.

    python bench/env_throughput.py [--game Pong] [--seconds 5] [--num-envs 1 2 4 8]

Frames are emulator/game frames (an Atari agent step is 4 frames), so every figure compares
like with like; each pipeline figure is also printed as a ratio to raw ALE.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ale_py
import numpy as np

from envs import make_env, make_vec_env, resolve_game
from envs.atari import rom_id
from envs.catalog import PIXEL_GAME_CLASSES
from envs.games import PYGAME_GAMES


def timed(run_for_seconds: float, chunk) -> float:
    """Calls ``chunk()`` (which returns frames done) until the time is up; returns frames/s."""
    frames, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < run_for_seconds:
        frames += chunk()
    return frames / elapsed


def raw_ale_frames_per_second(game: str, seconds: float) -> float:
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.setFloat("repeat_action_probability", 0.0)
    ale.loadROM(ale_py.roms.get_rom_path(rom_id(game)))
    actions = ale.getMinimalActionSet()
    rng = np.random.default_rng(0)

    def chunk() -> int:
        for action in rng.integers(len(actions), size=1000):
            ale.act(actions[action])
            if ale.game_over():
                ale.reset_game()
        return 1000

    return timed(seconds, chunk)


def episodic_frames_per_second(env, frames_per_step: int, seconds: float, chunk_steps: int = 100) -> float:
    """Random actions on one env, resetting at each game end."""
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def chunk() -> int:
        for action in rng.integers(env.action_space.n, size=chunk_steps):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        return chunk_steps * frames_per_step

    return timed(seconds, chunk)


def single_env_frames_per_second(game: str, seconds: float) -> float:
    return episodic_frames_per_second(make_env(game, mode="train"), resolve_game(game).frame_skip, seconds)


def vector_frames_per_second(game: str, num_envs: int, seconds: float, native_atari: bool | None = None) -> float:
    env = make_vec_env(game, num_envs, mode="train", native_atari=native_atari)
    env.reset(seed=0)
    frame_skip = resolve_game(game).frame_skip
    rng = np.random.default_rng(0)
    action_count = env.single_action_space.n

    def chunk() -> int:
        for _ in range(20):
            env.step(rng.integers(action_count, size=num_envs))
        return 20 * num_envs * frame_skip

    rate = timed(seconds, chunk)
    env.close()
    return rate


def pygame_raw_frames_per_second(name: str, seconds: float) -> float:
    return episodic_frames_per_second(PIXEL_GAME_CLASSES[name](), 1, seconds, chunk_steps=200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="Pong")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPU cores; game {args.game}; {args.seconds:.0f} s per figure")
    raw = raw_ale_frames_per_second(args.game, args.seconds)
    rows = [("raw ALE (one thread, no preprocessing)", raw)]
    rows.append(("single env: our DeepMind pipeline", single_env_frames_per_second(args.game, args.seconds)))
    rows.append(("vector env, 1 env: our pipeline (the default)", vector_frames_per_second(args.game, 1, args.seconds)))
    for num_envs in args.num_envs:
        rows.append(
            (
                f"vector env: native AtariVectorEnv, {num_envs} envs",
                vector_frames_per_second(args.game, num_envs, args.seconds, native_atari=True),
            )
        )
    print(f"{'path':<48}{'frames/s':>12}{'ratio to raw':>14}")
    for label, rate in rows:
        print(f"{label:<48}{rate:>12,.0f}{rate / raw:>14.2f}")

    print(f"\n{'pygame game (raw, headless, one core)':<48}{'frames/s':>12}")
    for name in [*PYGAME_GAMES, "CartPolePixels"]:
        print(f"{name:<48}{pygame_raw_frames_per_second(name, args.seconds / 2):>12,.0f}")


if __name__ == "__main__":
    main()
