"""The training loop: N parallel envs -> replay memory -> learner updates, with exploration,
target syncing, evaluation, logging and checkpoints on their own schedules.

All schedules count agent steps: transitions collected, summed over the envs (a vector
step that starts a new game in an env is no transition and no agent step). The replay ratio
is the paper's: one gradient update per ``update_period_steps`` agent steps.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent.checkpoint import numpy_rng_state, restore_numpy_rng, save_checkpoint
from agent.config import DQNConfig
from agent.learner import DQNLearner
from agent.network import build_q_network, resolve_device
from agent.policy import LinearSchedule, act_for_training
from agent.replay import ReplayMemory
from envs import GameSpec, make_vec_env, restore_vector_env_state, vector_env_state
from training.evaluation import evaluate

REPLAY_FILE = "replay.npz"


class TrainingError(Exception):
    """Training cannot go on (diverged, or cannot start); the message says what to do."""


@dataclass
class Progress:
    """Counters a resume restores, so every schedule continues where it stopped."""

    agent_step: int = 0
    episodes: int = 0
    last_target_sync_step: int = 0
    next_eval_step: int = 0
    next_checkpoint_step: int = 0
    best_eval_score: float = -math.inf
    wall_seconds: float = 0.0


def available_memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_replay_fits(config: DQNConfig, observation_shape: tuple[int, ...], bytes_per_value: int) -> int:
    """Refuses a replay memory the machine cannot hold, before allocating it."""
    needed = ReplayMemory.estimate_bytes(config.replay_capacity, observation_shape, bytes_per_value)
    available = available_memory_bytes()
    if available is not None and needed > 0.9 * available:
        per_transition = needed / config.replay_capacity
        fits = int(0.8 * available / per_transition) // 1000 * 1000
        raise TrainingError(
            f"the replay memory needs {needed / 1e9:.1f} GB but only {available / 1e9:.1f} GB of RAM is free; "
            f"use --replay-size {fits} (or less)"
        )
    return needed


class Trainer:
    """One training run in ``run_dir``."""

    def __init__(self, spec: GameSpec, config: DQNConfig, run_dir: Path, *, save_replay: bool = False) -> None:
        self.spec = spec
        self.config = config
        self.run_dir = Path(run_dir)
        self.save_replay = save_replay
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.env = make_vec_env(spec.name, config.num_envs, mode="train", sticky_actions=config.sticky_actions)
        self.observation_shape = tuple(self.env.single_observation_space.shape)
        self.num_actions = int(self.env.single_action_space.n)
        # frames are stored as uint8, vector states (CartPole) as float32
        self.observation_dtype = torch.uint8 if len(self.observation_shape) == 3 else torch.float32
        check_replay_fits(config, self.observation_shape, self.observation_dtype.itemsize)
        self.replay = self._new_replay()
        network = build_q_network(config, self.observation_shape, self.num_actions)
        self.learner = DQNLearner(network, config, self.device)
        self.learner.sync_target()
        self.epsilon = LinearSchedule(config.epsilon_start, config.epsilon_end, config.epsilon_decay_steps)
        self.action_rng = np.random.default_rng(config.seed + 2)
        self.progress = Progress(
            next_eval_step=config.eval_every_steps, next_checkpoint_step=config.checkpoint_every_steps
        )
        self.obs: np.ndarray | None = None
        self.recent_scores: list[float] = []
        self.stop_requested = False

    def _new_replay(self) -> ReplayMemory:
        config = self.config
        return ReplayMemory(
            config.replay_capacity,
            config.num_envs,
            self.observation_shape,
            observation_dtype=self.observation_dtype,
            discount=config.discount,
            n_step=config.n_step,
            device=self.device,
            storage_device=self.device if config.replay_on_device else "cpu",
            seed=config.seed + 1,
            prioritized=config.prioritized_replay,
            priority_alpha=config.priority_alpha,
            priority_beta=config.priority_beta,
        )

    # -- checkpoints ------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "game": self.spec.name,
            "family": self.spec.family,
            "config": self.config.to_dict(),
            "num_actions": self.num_actions,
            "observation_shape": list(self.observation_shape),
            "learner": self.learner.state_dict(),
            "progress": asdict(self.progress),
            "action_rng": numpy_rng_state(self.action_rng),
            "torch_rng": torch.get_rng_state(),
            "recent_scores": list(self.recent_scores),
            # the games in progress, where the vector env can give their state (exact resume)
            "env_state": vector_env_state(self.env) if self.obs is not None else None,
            "observation": torch.from_numpy(self.obs.copy()) if self.obs is not None else None,
        }

    def save(self, name: str = "latest.pt") -> Path:
        if not self.learner.parameters_are_finite():
            raise TrainingError(
                "the network's weights are no longer finite (NaN or inf); no checkpoint was written, the last good one is kept. Lower --set learning_rate=... and resume from latest.pt"
            )
        path = self.run_dir / name
        save_checkpoint(path, self.checkpoint_state())
        if self.save_replay and name == "latest.pt":
            self.replay.save(self.run_dir / REPLAY_FILE, game=self.spec.name, agent_step=self.progress.agent_step)
        return path

    def keep_periodic_copy(self, latest: Path) -> None:
        """Hard-links ``latest.pt`` as ``step_<N>.pt`` and keeps the newest few of those."""
        periodic = self.run_dir / f"step_{self.progress.agent_step:09d}.pt"
        try:
            os.link(latest, periodic)
        except OSError:
            import shutil

            shutil.copyfile(latest, periodic)
        for old in sorted(self.run_dir.glob("step_*.pt"))[: -self.config.keep_checkpoints or None]:
            old.unlink(missing_ok=True)

    def restore(self, state: dict[str, Any], replay_path: Path | None = None) -> None:
        self.learner.load_state_dict(state["learner"])
        self.progress = Progress(**state["progress"])
        restore_numpy_rng(self.action_rng, state["action_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.recent_scores = [float(score) for score in state["recent_scores"]]
        replay_restored = False
        if replay_path is not None and replay_path.is_file():
            saved = self.replay.load(replay_path)
            if saved.get("agent_step") != self.progress.agent_step:
                print(
                    f"note: {replay_path} is from step {saved.get('agent_step')}, the checkpoint from step {self.progress.agent_step}; the replay memory starts empty"
                )
                self.replay = self._new_replay()
            else:
                replay_restored = True
        if state.get("env_state") is not None and state.get("observation") is not None:
            self.env.reset(seed=self.config.seed)
            restore_vector_env_state(self.env, state["env_state"])
            self.obs = state["observation"].numpy().copy()
            if not replay_restored:
                for stream in range(self.config.num_envs):
                    self.replay.start_episode(stream, self.obs[stream])
        else:
            print("note: the games in progress could not be saved for this env; the resumed run starts new games")

    # -- the loop ---------------------------------------------------------------------
    def _start_envs(self) -> None:
        resets = self.progress.episodes  # a resumed run reseeds its games differently
        self.obs, _ = self.env.reset(seed=self.config.seed * 1000 + resets)
        for stream in range(self.config.num_envs):
            self.replay.start_episode(stream, self.obs[stream])

    def exploration_epsilon(self) -> float:
        """Uniformly random play (epsilon 1) until learning starts, then the schedule."""
        step = self.progress.agent_step
        return 1.0 if step < self.config.learning_starts else self.epsilon(step)

    def _updates_due(self) -> int:
        config = self.config
        if self.progress.agent_step < config.learning_starts or not self.replay.can_sample(config.batch_size):
            return 0
        wanted = (self.progress.agent_step - config.learning_starts) // config.update_period_steps + 1
        return max(wanted - self.learner.updates_done, 0)

    def train_step(self) -> tuple[list[tuple[float, int]], dict[str, torch.Tensor] | None]:
        """One vector step and the updates it makes due; returns the games that ended
        (score, length) and the last update's metrics (``None`` when no update ran)."""
        if self.obs is None:
            self._start_envs()
        config, progress = self.config, self.progress
        actions = act_for_training(
            self.learner.online, self.obs, self.num_actions, self.exploration_epsilon(), self.action_rng, self.device
        )
        next_obs, rewards, terminated, truncated, info = self.env.step(actions)
        self.replay.add_vector_step(actions, rewards, terminated, truncated, next_obs, info["first"])
        self.obs = next_obs
        progress.agent_step += int((~info["first"]).sum())

        metrics = None
        for _ in range(self._updates_due()):
            batch = self.replay.sample(config.batch_size)
            metrics = self.learner.update(batch)
            if config.prioritized_replay:
                self.replay.update_priorities(batch["index"], metrics["td_error"])
        period = config.target_update_period_steps
        if config.target_update_tau >= 1.0 and progress.agent_step // period > progress.last_target_sync_step // period:
            self.learner.sync_target()
            progress.last_target_sync_step = progress.agent_step
        ended = [
            (float(info["episode_score"][i]), int(info["episode_length"][i]))
            for i in np.flatnonzero(info["episode_done"])
        ]
        progress.episodes += len(ended)
        self.recent_scores = (self.recent_scores + [score for score, _ in ended])[-100:]
        return ended, metrics

    def evaluate(self) -> list[float]:
        config = self.config
        return evaluate(
            self.learner.online,
            self.spec.name,
            episodes=config.eval_episodes,
            epsilon=config.eval_epsilon,
            seed=config.seed + 10_000 + self.progress.agent_step,
            device=self.device,
            max_episode_steps=config.eval_max_episode_steps,
            sticky_actions=config.sticky_actions,
        )

    def close(self) -> None:
        self.env.close()
