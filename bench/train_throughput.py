"""End-to-end training speed: agent steps/s once learning has started (one gradient update,
batch 32, every 4 agent steps; epsilon already down at 0.1, so nearly every step runs the
network), for arcade-dqn's trainer and, side by side in the same run, Stable-Baselines3's DQN
on the same game with the same settings.

    python bench/train_throughput.py [--game Pong] [--seconds 30] [--sb3-python PYTHON]

Stable-Baselines3 is not a dependency of arcade-dqn. Its figure is printed when ``PYTHON``
(default: this interpreter) can import it, for instance from a separate venv:
``python -m venv /tmp/sb3 && /tmp/sb3/bin/pip install torch==2.13.0 stable-baselines3==2.9.2
ale-py==0.12.1 gymnasium==1.4.0 opencv-python-headless``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPLAY_CAPACITY = 100_000
LEARNING_STARTS = 2_000


def arcade_dqn_steps_per_second(game: str, preset: str, num_envs: int, seconds: float) -> float:
    from agent.config import make_config
    from envs import resolve_game
    from training.trainer import Trainer

    config = make_config(
        preset,
        num_envs=num_envs,
        replay_capacity=REPLAY_CAPACITY,
        learning_starts=LEARNING_STARTS,
        epsilon_decay_steps=LEARNING_STARTS,
        device="cpu",
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(resolve_game(game), config, Path(run_dir))
        try:
            while trainer.progress.agent_step < LEARNING_STARTS + 500:
                trainer.train_step()
            start_step, start = trainer.progress.agent_step, time.perf_counter()
            while time.perf_counter() - start < seconds:
                trainer.train_step()
            return (trainer.progress.agent_step - start_step) / (time.perf_counter() - start)
        finally:
            trainer.close()


SB3_MEASUREMENT = r"""
import json, sys, time
import ale_py, gymnasium as gym
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.vec_env import VecFrameStack

game, seconds, capacity, learning_starts = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
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
            device="cpu", seed=0)
clock = Clock()
model.learn(total_timesteps=total, callback=clock)
import stable_baselines3
print(json.dumps({"steps_per_second": clock.rate, "version": stable_baselines3.__version__}))
"""


def sb3_steps_per_second(python: str, game: str, seconds: float) -> tuple[float, str] | None:
    """Stable-Baselines3's DQN under ``python`` (agent steps/s and its version), or ``None``
    when it cannot be imported there."""
    check = subprocess.run([python, "-c", "import stable_baselines3"], check=False, capture_output=True)
    if check.returncode != 0:
        return None
    result = subprocess.run(
        [python, "-c", SB3_MEASUREMENT, game, str(seconds), str(REPLAY_CAPACITY), str(LEARNING_STARTS)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return measured["steps_per_second"], measured["version"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="Pong", help="an Atari game (Stable-Baselines3 runs it as ALE/<game>-v5)")
    parser.add_argument("--seconds", type=float, default=30.0, help="timed seconds per figure, after the warm-up")
    parser.add_argument("--sb3-python", default=sys.executable, help="a Python that can import stable_baselines3")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternate the runs this many times (the machine is noisy)"
    )
    args = parser.parse_args()

    import torch

    print(
        f"game {args.game}; CPU, {torch.get_num_threads()} threads; Nature CNN, batch 32, "
        f"one update per 4 agent steps, replay {REPLAY_CAPACITY:,}, {args.seconds:.0f} s timed per figure "
        f"after {LEARNING_STARTS:,} + 500 warm-up steps"
    )
    print(f"{'round':<6} {'trainer':<58} {'agent steps/s':>14}")
    for round_number in range(1, args.rounds + 1):
        sb3 = sb3_steps_per_second(args.sb3_python, args.game, args.seconds)
        rows = [
            (
                "arcade-dqn, nature preset (RMSprop), 1 env",
                arcade_dqn_steps_per_second(args.game, "nature", 1, args.seconds),
            ),
            (
                "arcade-dqn, atari preset (Double DQN + Adam), 4 envs",
                arcade_dqn_steps_per_second(args.game, "atari", 4, args.seconds),
            ),
            (f"Stable-Baselines3 {sb3[1] if sb3 else ''} DQN (CnnPolicy, Adam), 1 env", sb3[0] if sb3 else None),
        ]
        for label, value in rows:
            figure = f"{value:14,.1f}" if value is not None else f"{'not run: stable_baselines3 not importable':>14}"
            print(f"{round_number:<6} {label:<58} {figure}", flush=True)


if __name__ == "__main__":
    main()
