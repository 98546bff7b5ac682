"""End-to-end training speed in agent steps/s, every figure side by side in one run.

    python bench/train_throughput.py [--device cpu|cuda] [--game Pong] [--num-envs 8]
                                     [--seconds 20] [--rounds 2] [--threads N] [--sb3-python PYTHON]

Two tables, each row timed once learning has started (one gradient update, batch 32, every 4
agent steps; epsilon already down at 0.1, so nearly every step runs the network). The rows of a
table are set up together and take turns, one second each, until each has run ``--seconds``:
the machine's slow and fast moments fall on all of them alike.

* **Host side.** The same vector env stepped alone, then the whole loop (replay writes,
  sampling, updates, target syncs) with a trivial network (a learned bias per action), so
  that acting and updating cost almost nothing: what the loop itself costs, whatever the
  device; and the same loop with no sampling or updates at all (acting and replay writes
  only), which shows what the learning part adds. Each row gives its ratio to the env alone.
* **Whole training.** arcade-dqn's loop with the env steps overlapped with the updates (the
  default), serial (step, then update), and on CUDA also with the update captured as a CUDA
  graph; a plain CleanRL-style PyTorch loop on the same game and settings (one env, a NumPy
  replay of 4-frame stacks, Adam, MSE, a target copy every 1,000 steps); and
  Stable-Baselines3's DQN when ``PYTHON`` (default: this interpreter) can import it, for
  instance from a separate venv: ``python -m venv /tmp/sb3 && /tmp/sb3/bin/pip install
  torch==2.13.0 stable-baselines3==2.9.2 ale-py==0.12.1 gymnasium==1.4.0 opencv-python-headless``.

Replay capacity: 100,000 on the CPU, 1M on a GPU (there arcade-dqn keeps its frames on the GPU).
The device name heads the output. Each row measured in this process says how many CPU cores it
kept busy (its CPU time over the wall time, all threads), the CPU time of the thread that runs
the loop per agent step (the env's worker threads aside: on a machine where the games have cores
of their own, the loop cannot run faster than one agent step per that), and on CUDA how busy
the GPU was (``nvidia-smi``'s utilisation, sampled while the row ran). Stable-Baselines3 runs in its own
process after the others.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agent.learner import DQNLearner
from agent.network import resolve_device
from bench.agent_throughput import device_name, plain_nature_cnn, release_device_memory

LEARNING_STARTS = 2_000
WARM_UP_STEPS = 500  # timed after learning_starts + this
UPDATE_PERIOD = 4
BATCH_SIZE = 32
TIMED_EPSILON = 0.1
NEVER = 10**12  # an update period no run reaches: the loop without learning


def replay_capacity_for(device: torch.device) -> int:
    return 1_000_000 if device.type == "cuda" else 100_000


class TrivialQNetwork(nn.Module):
    """A learned bias per action and nothing else: the Q-values do not depend on the state, so
    acting and updating cost one tensor operation each way (the batches are still drawn and
    stacked, the loss, backward pass and optimizer step still run; the atari preset clips no
    gradients), and a loop run with it measures the loop's own (host-side) cost."""

    def __init__(self, num_actions: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_actions))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(frames.shape[0], -1)


def nvidia_smi_id(device: torch.device) -> str:
    """The GPU as ``nvidia-smi --id`` names it: by UUID, since CUDA's ordinals count only the
    GPUs ``CUDA_VISIBLE_DEVICES`` shows, in its order, and nvidia-smi's count them all."""
    return f"GPU-{torch.cuda.get_device_properties(device).uuid}"


@contextmanager
def gpu_busy_meter(device: torch.device) -> Iterator[list[float]]:
    """Samples ``nvidia-smi``'s GPU utilisation every 0.2 s while the block runs; the list it
    yields holds the samples afterwards (empty off CUDA or without nvidia-smi)."""
    samples: list[float] = []
    if device.type != "cuda":
        yield samples
        return
    command = [
        "nvidia-smi",
        f"--id={nvidia_smi_id(device)}",
        "--query-gpu=utilization.gpu",
        "--format=csv,noheader,nounits",
    ]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            try:
                samples.append(float(subprocess.run(command, capture_output=True, text=True, check=True).stdout))
            except (OSError, ValueError, subprocess.CalledProcessError):
                return

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


class Measured(NamedTuple):
    steps_per_second: float
    gpu_busy: float | None
    """The mean GPU utilisation in percent meanwhile (``None`` off CUDA)."""
    cores_busy: float
    """The process's CPU time (all its threads) over the wall time: how many cores it kept busy."""
    thread_ms_per_step: float
    """The CPU time of the thread that runs the loop (not the env's workers) per agent step, in
    ms: where the games have cores of their own, the loop cannot go faster than 1 / this."""


StepFunction = Callable[[], int]
"""Runs one step of a loop; returns the agent steps it did."""


def side_by_side(
    loops: dict[str, StepFunction], seconds: float, device: torch.device, slice_seconds: float = 1.0
) -> dict[str, Measured]:
    """Times every loop for ``seconds`` in all, taking turns in slices of ``slice_seconds``: the
    machine's slow and fast moments (it is shared, and a virtual machine's) fall on every loop
    alike, and the ratios between them hold within a round."""
    done = dict.fromkeys(loops, 0)
    wall = dict.fromkeys(loops, 0.0)
    cpu = dict.fromkeys(loops, 0.0)
    thread_cpu = dict.fromkeys(loops, 0.0)
    busy: dict[str, list[float]] = {name: [] for name in loops}
    while min(wall.values()) < seconds:
        for name, step in loops.items():
            with gpu_busy_meter(device) as samples:
                start, cpu_start, thread_start = time.perf_counter(), time.process_time(), time.thread_time()
                while time.perf_counter() - start < slice_seconds:
                    done[name] += step()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                wall[name] += time.perf_counter() - start
                cpu[name] += time.process_time() - cpu_start
                thread_cpu[name] += time.thread_time() - thread_start
            busy[name] += samples
    rows = {}
    for name in loops:
        gpu_busy = float(np.mean(busy[name])) if busy[name] else None
        thread_ms = 1e3 * thread_cpu[name] / max(done[name], 1)
        rows[name] = Measured(done[name] / wall[name], gpu_busy, cpu[name] / wall[name], thread_ms)
    return rows


@contextmanager
def vector_env_alone(game: str, num_envs: int) -> Iterator[StepFunction]:
    """The vector env alone, random actions: the ceiling of any loop over it."""
    from envs import make_vec_env

    env = make_vec_env(game, num_envs, mode="train")
    rng = np.random.default_rng(0)
    try:
        env.reset(seed=0)

        def step() -> int:
            _, _, _, _, info = env.step(rng.integers(0, env.single_action_space.n, size=num_envs))
            return int((~info["first"]).sum())

        yield step
    finally:
        env.close()


@contextmanager
def arcade_dqn_loop(
    game: str,
    num_envs: int,
    device: torch.device,
    *,
    overlap: bool,
    trivial_network: bool,
    captured: bool = False,
    update_period: int = UPDATE_PERIOD,
    learning_starts: int = LEARNING_STARTS,
) -> Iterator[StepFunction]:
    """arcade-dqn's training loop, warmed up past ``learning_starts``; a step is one vector step."""
    from agent.config import make_config
    from envs import resolve_game
    from training.trainer import Trainer

    config = make_config(
        "atari",
        num_envs=num_envs,
        replay_capacity=replay_capacity_for(device),
        replay_on_device="auto",  # on a GPU: there, sampled there (1M transitions: about 7 GB)
        batch_size=BATCH_SIZE,
        update_period_steps=update_period,
        learning_starts=learning_starts,
        epsilon_end=TIMED_EPSILON,
        epsilon_decay_steps=learning_starts,
        overlap_collection=overlap,
        captured_update=captured,
        device=str(device),
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(resolve_game(game), config, Path(run_dir))
        print(f"       ({trainer.replay_placement.reason})", flush=True)
        try:
            if trivial_network:
                trainer.learner = DQNLearner(TrivialQNetwork(trainer.num_actions), config, trainer.device)
            while trainer.progress.agent_step < learning_starts + WARM_UP_STEPS:
                trainer.train_step()

            def step() -> int:
                before = trainer.progress.agent_step
                trainer.train_step()
                return trainer.progress.agent_step - before

            yield step
        finally:
            trainer.close()


@contextmanager
def cleanrl_style_loop(
    game: str, device: torch.device, learning_starts: int = LEARNING_STARTS
) -> Iterator[StepFunction]:
    """A plain single-env PyTorch DQN loop the way CleanRL's dqn_atari writes it: gymnasium's
    Atari preprocessing and frame stack, a NumPy replay of whole 4-frame stacks (each next
    state stored as the following slot, like SB3's memory-optimised buffer), a Nature CNN
    ``nn.Sequential``, Adam at 1e-4, MSE on the max-target, a target copy every 1,000 steps."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make(f"ALE/{game}-v5", frameskip=1, repeat_action_probability=0.0)
    env = gym.wrappers.FrameStackObservation(gym.wrappers.AtariPreprocessing(env, frame_skip=4, noop_max=30), 4)
    capacity = replay_capacity_for(device)
    frames = np.zeros((capacity, 4, 84, 84), dtype=np.uint8)
    actions = np.zeros(capacity, dtype=np.int64)
    rewards = np.zeros(capacity, dtype=np.float32)
    dones = np.zeros(capacity, dtype=np.float32)
    num_actions = int(env.action_space.n)
    online = plain_nature_cnn(num_actions, device)
    target = copy.deepcopy(online)
    optimizer = torch.optim.Adam(online.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    position = 0

    def step() -> int:
        nonlocal obs, position
        epsilon = 1.0 if position < learning_starts else TIMED_EPSILON
        if rng.random() < epsilon:
            action = int(rng.integers(num_actions))
        else:
            with torch.no_grad():
                action = int(online(torch.as_tensor(obs[None], device=device).float() / 255.0).argmax().item())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        slot = position % capacity
        frames[slot], actions[slot], rewards[slot], dones[slot] = obs, action, np.sign(reward), terminated
        frames[(slot + 1) % capacity] = next_obs
        obs = env.reset()[0] if terminated or truncated else next_obs
        position += 1
        if position > learning_starts and position % UPDATE_PERIOD == 0:
            index = rng.integers(0, min(position, capacity) - 1, size=BATCH_SIZE)
            states = torch.as_tensor(frames[index], device=device).float() / 255.0
            next_states = torch.as_tensor(frames[(index + 1) % capacity], device=device).float() / 255.0
            with torch.no_grad():
                next_value = target(next_states).max(dim=1).values
                td_target = torch.as_tensor(rewards[index], device=device) + 0.99 * next_value * (
                    1 - torch.as_tensor(dones[index], device=device)
                )
            taken = online(states).gather(1, torch.as_tensor(actions[index], device=device)[:, None]).squeeze(1)
            loss = F.mse_loss(taken, td_target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if position % 1_000 == 0:
            target.load_state_dict(online.state_dict())
        return 1

    try:
        while position < learning_starts + WARM_UP_STEPS:
            step()
        yield step
    finally:
        env.close()


SB3_MEASUREMENT = r"""
import json, sys, time
import ale_py, gymnasium as gym
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.vec_env import VecFrameStack

game, seconds, device = sys.argv[1], float(sys.argv[2]), sys.argv[5]
capacity, learning_starts = int(sys.argv[3]), int(sys.argv[4])
gym.register_envs(ale_py)
settings = {"frameskip": 1, "repeat_action_probability": 0.0}
env = VecFrameStack(make_atari_env(f"ALE/{game}-v5", n_envs=1, seed=0, env_kwargs=settings), 4)

class Clock(BaseCallback):
    def _on_step(self):
        if self.num_timesteps == learning_starts + 500:
            self.start = time.perf_counter()
        elif self.num_timesteps > learning_starts + 500 and time.perf_counter() - self.start >= seconds:
            self.rate = (self.num_timesteps - learning_starts - 500) / (time.perf_counter() - self.start)
            return False
        return True

total = 10_000_000
model = DQN("CnnPolicy", env, buffer_size=capacity, learning_starts=learning_starts, train_freq=4, batch_size=32,
            target_update_interval=10_000, exploration_fraction=learning_starts / total, exploration_final_eps=0.1,
            device=device, seed=0)
clock = Clock()
model.learn(total_timesteps=total, callback=clock)
import stable_baselines3
print(json.dumps({"steps_per_second": clock.rate, "version": stable_baselines3.__version__}))
"""


def sb3_steps_per_second(
    python: str, game: str, seconds: float, device: torch.device, learning_starts: int = LEARNING_STARTS
) -> tuple[float, str] | None:
    """Stable-Baselines3's DQN under ``python`` (agent steps/s and its version), or ``None``
    when it cannot be imported there."""
    check = subprocess.run([python, "-c", "import stable_baselines3"], check=False, capture_output=True)
    if check.returncode != 0:
        return None
    arguments = [game, str(seconds), str(replay_capacity_for(device)), str(learning_starts), device.type]
    result = subprocess.run([python, "-c", SB3_MEASUREMENT, *arguments], capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return measured["steps_per_second"], measured["version"]


def print_row(round_number: int, label: str, value: float | None, note: str = "") -> None:
    figure = f"{value:14,.1f}" if value is not None else f"{'not run':>14}"
    print(f"{round_number:<6} {label:<64} {figure}  {note}".rstrip(), flush=True)


def print_measured(round_number: int, label: str, measured: Measured, note: str = "") -> None:
    busy = [f"{measured.cores_busy:.1f} CPU cores busy", f"loop thread {measured.thread_ms_per_step:.3f} ms/step"]
    if measured.gpu_busy is not None:
        busy.append(f"GPU busy {measured.gpu_busy:.0f}%")
    print_row(round_number, label, measured.steps_per_second, ", ".join([note, *busy] if note else busy))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the learner's device)")
    parser.add_argument("--game", default="Pong", help="an Atari game")
    parser.add_argument("--num-envs", type=int, default=8, help="arcade-dqn's parallel envs")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per figure, after the warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="alternate the rows this many times (noisy machine)")
    parser.add_argument(
        "--learning-starts", type=int, default=LEARNING_STARTS, help="random steps before the timed learning"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch's CPU threads (default: torch's own)")
    parser.add_argument("--sb3-python", default=sys.executable, help="a Python that can import stable_baselines3")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["host", "whole", "sb3"], help="tables or rows to leave out"
    )
    args = parser.parse_args(argv)
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    if args.num_envs < 1 or args.seconds <= 0 or args.rounds < 1 or (args.threads is not None and args.threads < 1):
        parser.error("--num-envs, --rounds and --threads must be at least 1 and --seconds positive")
    if args.learning_starts < BATCH_SIZE:
        parser.error(f"--learning-starts must be at least {BATCH_SIZE} (a batch)")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print(
        f"device: {device_name(device)}; game {args.game}; batch {BATCH_SIZE}, one update per {UPDATE_PERIOD} agent "
        f"steps, replay {replay_capacity_for(device):,}; {args.seconds:.0f} s timed per figure after "
        f"{args.learning_starts:,} + {WARM_UP_STEPS} warm-up steps"
    )
    print(f"{'round':<6} {'loop':<64} {'agent steps/s':>14}")
    for round_number in range(1, args.rounds + 1):
        if "host" not in args.skip:
            host_side_table(round_number, args.game, args.num_envs, args.seconds, device, args.learning_starts)
            release_device_memory(device)
        if "whole" in args.skip:
            continue
        whole_training_table(round_number, args.game, args.num_envs, args.seconds, device, args.learning_starts)
        release_device_memory(device)
        if "sb3" not in args.skip:
            sb3 = sb3_steps_per_second(args.sb3_python, args.game, args.seconds, device, args.learning_starts)
            label = f"Stable-Baselines3 {sb3[1] if sb3 else ''} DQN (CnnPolicy, Adam), 1 env"
            print_row(round_number, label, sb3[0] if sb3 else None, "" if sb3 else "stable_baselines3 not importable")


def print_peak_gpu_memory(device: torch.device) -> None:
    """The most GPU memory the table's loops held at once (all of them side by side), then
    resets the count for the next table."""
    if device.type == "cuda":
        print(f"       (peak GPU memory allocated: {torch.cuda.max_memory_allocated(device) / 1e9:.1f} GB)", flush=True)
        torch.cuda.reset_peak_memory_stats(device)


def host_side_table(
    round_number: int, game: str, envs: int, seconds: float, device: torch.device, learning_starts: int
) -> None:
    """The vector env alone beside the whole loop with a trivial network (see the docstring)."""
    with ExitStack() as stack:
        alone = f"host side: vector env alone, {envs} envs, random actions"
        loops = {alone: stack.enter_context(vector_env_alone(game, envs))}
        for overlap, period, how in [
            (False, UPDATE_PERIOD, "serial"),
            (True, UPDATE_PERIOD, "overlapped"),
            (True, NEVER, "no sampling or updates"),
        ]:
            loops[f"host side: whole loop, trivial network, {how}"] = stack.enter_context(
                arcade_dqn_loop(
                    game,
                    envs,
                    device,
                    overlap=overlap,
                    trivial_network=True,
                    update_period=period,
                    learning_starts=learning_starts,
                )
            )
        measured = side_by_side(loops, seconds, device)
    print_peak_gpu_memory(device)
    for label, row in measured.items():
        ratio = f"{row.steps_per_second / measured[alone].steps_per_second:.2f}x the env alone"
        print_measured(round_number, label, row, "" if label == alone else ratio)


def whole_training_table(
    round_number: int, game: str, envs: int, seconds: float, device: torch.device, learning_starts: int
) -> None:
    """arcade-dqn's loop (overlapped, serial, on CUDA captured too) beside the CleanRL-style loop."""
    variants = [(True, False, "overlapped (the default)"), (False, False, "serial")]
    if device.type == "cuda":
        variants.insert(0, (True, True, "overlapped, captured update"))
    with ExitStack() as stack:
        loops = {
            f"arcade-dqn, atari preset, {envs} envs, {how}": stack.enter_context(
                arcade_dqn_loop(
                    game,
                    envs,
                    device,
                    overlap=overlap,
                    trivial_network=False,
                    captured=captured,
                    learning_starts=learning_starts,
                )
            )
            for overlap, captured, how in variants
        }
        loops["plain CleanRL-style PyTorch loop, 1 env"] = stack.enter_context(
            cleanrl_style_loop(game, device, learning_starts)
        )
        measured = side_by_side(loops, seconds, device)
    print_peak_gpu_memory(device)
    for label, row in measured.items():
        print_measured(round_number, label, row)


if __name__ == "__main__":
    main()
