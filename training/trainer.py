"""The training loop: N parallel envs -> replay memory -> learner updates, with exploration,
target syncing, evaluation, logging and checkpoints on their own schedules.

All schedules count agent steps: transitions collected, summed over the envs (a vector
step that starts a new game in an env is no transition and no agent step). The replay ratio
is the paper's: one gradient update per ``update_period_steps`` agent steps.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent.checkpoint import numpy_rng_state, restore_numpy_rng, save_checkpoint
from agent.config import DQNConfig
from agent.learner import DQNLearner
from agent.network import build_q_network, resolve_device
from agent.policy import LinearSchedule, act_for_training
from agent.replay import DeviceReplayMemory, ReplayMemory
from agent.replay.persistence import read_manifest
from envs import GameSpec, from_checkpoint, make_vec_env, to_checkpoint
from training.background_evaluation import BackgroundEvaluator, EvaluationJob
from training.evaluation import PlaySettings, evaluate
from training.replay_placement import ReplayDoesNotFit, gpu_room_lock, place_replay
from training.schedule import Progress, Schedule

REPLAY_FOLDER = "replay"  # the saved replay memory (agent/replay/persistence.py)
EARLIER_REPLAY_FILE = "replay.npz"  # where earlier versions saved it whole; still loaded
# Each random stream of a run is seeded from config.seed plus its own offset, so they differ.
REPLAY_SEED_OFFSET = 1
ACTION_SEED_OFFSET = 2
EVAL_SEED_OFFSET = 10_000  # evaluation games: this plus the agent step, never a training game's seed
RESET_SEEDS_PER_RUN = 1_000  # training games start from seed * this + the number of games played
RECENT_SCORES_KEPT = 100


def saved_replay_in(run_dir: Path) -> Path | None:
    """The replay memory a run folder saved (a folder, or an earlier version's file), if any."""
    if read_manifest(run_dir / REPLAY_FOLDER) is not None:
        return run_dir / REPLAY_FOLDER
    earlier = run_dir / EARLIER_REPLAY_FILE
    return earlier if earlier.is_file() else None


class TrainingError(Exception):
    """Training cannot go on (diverged, or cannot start); the message says what to do."""


class Trainer:
    """One training run in ``run_dir``."""

    def __init__(self, spec: GameSpec, config: DQNConfig, run_dir: Path, *, save_replay: bool = False) -> None:
        self.spec = spec
        self.config = config
        self.run_dir = Path(run_dir)
        self.save_replay = save_replay
        self.device = resolve_device(config.device)
        if self.device.type == "cuda":
            # whatever takes no device uses the current one (streams, events, graphs): the run's
            torch.cuda.set_device(self.device)
        torch.manual_seed(config.seed)
        self.env = make_vec_env(spec.name, config.num_envs, mode="train", sticky_actions=config.sticky_actions)
        try:
            self.observation_shape = tuple(self.env.single_observation_space.shape)
            self.num_actions = int(self.env.single_action_space.n)
            # frames are stored as uint8, vector states (CartPole) as float32
            self.observation_dtype = torch.uint8 if len(self.observation_shape) == 3 else torch.float32
            with gpu_room_lock(self.device):  # until the memory is allocated
                self.replay_placement = place_replay(
                    config, self.observation_shape, self.observation_dtype.itemsize, self.device
                )
                self.replay_on_device = self.replay_placement.on_learner_device
                self.replay = self._new_replay()
        except ReplayDoesNotFit as error:
            self.env.close()
            raise TrainingError(str(error)) from None
        except BaseException:
            self.env.close()  # a refused memory must not leave the env (and its processes) behind
            raise
        network = build_q_network(config, self.observation_shape, self.num_actions)
        self.learner = DQNLearner(network, config, self.device)
        self.learner.sync_target()
        self.epsilon = LinearSchedule(config.epsilon_start, config.epsilon_end, config.epsilon_decay_steps)
        self.action_rng = np.random.default_rng(config.seed + ACTION_SEED_OFFSET)
        self.progress = Schedule.new_progress(config)
        self.schedule = Schedule(config, self.progress)
        self.obs: np.ndarray | None = None
        self.recent_scores: list[float] = []
        self.stop_requested = False
        # where the games step in this process (SerialVectorEnv) there is nothing to overlap
        self.overlaps_collection = config.overlap_collection and self.env.steps_in_background
        # Overlapped, with the memory on the host, a vector step is written into the replay
        # memory once the next actions are sent, while the games step: the updates still see
        # every step up to the one before, and acting does not wait for the write. (On the
        # device, acting reads its states from the memory, so the step is written at once.)
        self.writes_after_sending = self.overlaps_collection and not self.replay_on_device
        self._unwritten_step: tuple[np.ndarray, ...] | None = None
        # Overlapped, a step's actions are sent as soon as its observations arrive, before
        # train_step returns: the games stand idle only while the agent acts, not while the
        # trainer counts finished games or the caller logs (with the memory on the host, not
        # while the episode rules run either), so a step is under way between calls.
        self._actions_in_flight: np.ndarray | None = None

    def _new_replay(self) -> ReplayMemory:
        config = self.config
        settings = {
            "observation_dtype": self.observation_dtype,
            "discount": config.discount,
            "n_step": config.n_step,
            "device": self.device,
            "seed": config.seed + REPLAY_SEED_OFFSET,
            "prioritized": config.prioritized_replay,
            "priority_alpha": config.priority_alpha,
            "priority_beta": config.priority_beta,
        }
        if self.replay_on_device:
            return DeviceReplayMemory(config.replay_capacity, config.num_envs, self.observation_shape, **settings)
        return ReplayMemory(config.replay_capacity, config.num_envs, self.observation_shape, **settings)

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
            "env_state": to_checkpoint(self.env.get_state()) if self.obs is not None else None,
            "observation": torch.from_numpy(self.obs.copy()) if self.obs is not None else None,
        }

    def save(self, name: str = "latest.pt") -> Path:
        path = self.save_state(self.checkpoint_state(), name)
        if self.save_replay and name == "latest.pt":
            self.write_last_step()
            self.replay.save(self.run_dir / REPLAY_FOLDER, game=self.spec.name, agent_step=self.progress.agent_step)
            (self.run_dir / EARLIER_REPLAY_FILE).unlink(missing_ok=True)  # replaced by the folder
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

    def restore(self, state: dict[str, Any], replay_path: Path | None = None) -> list[str]:
        """Puts the run back where ``state`` (and the saved replay memory, if given) left it;
        returns notes for the user on what could not be restored exactly."""
        notes = []
        self._unwritten_step = None  # a step of the run being replaced
        self._actions_in_flight = None  # (the env's reset collects that step)
        self.learner.load_state_dict(state["learner"])
        self.progress = Progress(**state["progress"])
        self.schedule = Schedule(self.config, self.progress)
        restore_numpy_rng(self.action_rng, state["action_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.recent_scores = [float(score) for score in state["recent_scores"]]
        replay_restored = False
        if replay_path is not None and replay_path.exists():
            saved = self.replay.load(replay_path)
            if saved.get("agent_step") != self.progress.agent_step:
                notes.append(
                    f"{replay_path} is from step {saved.get('agent_step')}, the checkpoint from step "
                    f"{self.progress.agent_step}; the replay memory starts empty"
                )
                self.replay = self._new_replay()
            else:
                replay_restored = True
        if not replay_restored and self.progress.agent_step >= self.schedule.updates_start_step:
            refill = self.config.learning_starts
            self.schedule.refill_before_updating(refill, self.learner.updates_done)
            notes.append(
                f"the replay memory starts empty: the agent plays {refill:,} steps (learning_starts) to refill it "
                "before updates go on (--save-replay keeps the memory across a resume)"
            )
        if state.get("env_state") is not None and state.get("observation") is not None:
            self.env.reset(seed=self.config.seed)
            self.env.set_state(from_checkpoint(state["env_state"]))
            self.obs = state["observation"].numpy().copy()
            if not replay_restored:
                for stream in range(self.config.num_envs):
                    self.replay.start_episode(stream, self.obs[stream])
        else:
            self.obs = None  # new games at the next step (a step still in flight is collected then)
            notes.append("the games in progress could not be saved for this env; the resumed run starts new games")
        return notes

    # -- the loop ---------------------------------------------------------------------
    def _start_envs(self) -> None:
        resets = self.progress.episodes  # a resumed run reseeds its games differently
        self._actions_in_flight = None  # (the env's reset collects that step)
        self.obs, _ = self.env.reset(seed=self.config.seed * RESET_SEEDS_PER_RUN + resets)
        for stream in range(self.config.num_envs):
            self.replay.start_episode(stream, self.obs[stream])

    def exploration_epsilon(self) -> float:
        """Uniformly random play (epsilon 1) until learning starts, then the schedule."""
        step = self.progress.agent_step
        return 1.0 if step < self.config.learning_starts else self.epsilon(step)

    def _updates_due(self) -> int:
        if not self.replay.can_sample(self.config.batch_size):
            return 0
        return self.schedule.updates_due(self.learner.updates_done)

    def _run_due_updates(self) -> dict[str, torch.Tensor] | None:
        """The gradient updates due now and a target sync if one is due; the last update's
        metrics (device tensors, not read back here) or ``None``."""
        metrics = None
        for batch in self.replay.sample_batches(self.config.batch_size, self._updates_due()):
            metrics = self.learner.update(batch)
            if self.config.prioritized_replay:
                self.replay.update_priorities(batch["index"], metrics["td_error"])
        if self.schedule.take_target_sync():
            self.learner.sync_target()
        return metrics

    def train_step(self) -> tuple[list[tuple[float, int]], dict[str, torch.Tensor] | None]:
        """One vector step and the updates it makes due; returns the games that ended
        (score, length) and the last update's metrics (``None`` when no update ran)."""
        if self.obs is None:
            self._start_envs()
        progress = self.progress
        if self._actions_in_flight is None:  # serial: every step; overlapped: the first
            self._actions_in_flight = self._act_and_send()
        # overlapped: the last step's write and the updates due so far run while the games step
        self.write_last_step()
        metrics = self._run_due_updates() if self.overlaps_collection else None
        next_obs, first = self.env.receive_observations()
        actions, self._actions_in_flight = self._actions_in_flight, None
        self.obs = next_obs
        progress.agent_step += int((~first).sum())
        if self.writes_after_sending:  # acting needs the observations alone: the games step while the rules run
            self._actions_in_flight = self._act_and_send()
        _, rewards, terminated, truncated, info = self.env.finish_step()
        self._unwritten_step = (actions, rewards, terminated, truncated, next_obs, first)
        if not self.writes_after_sending:
            self.write_last_step()
            if self.overlaps_collection:  # (with the memory on the device, acting reads the step just written)
                self._actions_in_flight = self._act_and_send()
            else:
                metrics = self._run_due_updates()
        ended = [
            (float(info["episode_score"][i]), int(info["episode_length"][i]))
            for i in np.flatnonzero(info["episode_done"])
        ]
        progress.episodes += len(ended)
        self.recent_scores = (self.recent_scores + [score for score, _ in ended])[-RECENT_SCORES_KEPT:]
        return ended, metrics

    def _act_and_send(self) -> np.ndarray:
        """Chooses every env's next action and starts the step; returns the actions."""
        # with the replay memory on the learner's device, the states to act on are there already
        states = self.replay.newest_states() if self.replay_on_device else self.obs
        actions = act_for_training(
            self.learner.online, states, self.num_actions, self.exploration_epsilon(), self.action_rng, self.device
        )
        self.env.send(actions)
        return actions

    def write_last_step(self) -> None:
        """Writes the last vector step into the replay memory if it is not there yet (see
        ``writes_after_sending``); whatever reads the memory between steps calls this first."""
        if self._unwritten_step is not None:
            self.replay.add_vector_step(*self._unwritten_step)
            self._unwritten_step = None

    def evaluation_seed(self) -> int:
        """Seeds the evaluation games at this step (never a training game's seed)."""
        return self.config.seed + EVAL_SEED_OFFSET + self.progress.agent_step

    def evaluate(self) -> list[float]:
        """Plays the evaluation games now, with the current weights."""
        config = self.config
        return evaluate(
            self.learner.online,
            self.spec.name,
            PlaySettings.from_config(config),
            episodes=config.eval_episodes,
            seed=self.evaluation_seed(),
            device=self.device,
        )

    def evaluation_job(self) -> EvaluationJob:
        """An evaluation of the current weights to play beside training: copies of the network
        and of the checkpoint state (``best.pt`` if it scores best)."""
        return EvaluationJob(
            step=self.progress.agent_step,
            seed=self.evaluation_seed(),
            network=copy.deepcopy(self.learner.online).requires_grad_(False),
            checkpoint_state=copy.deepcopy(self.checkpoint_state()),
        )

    def save_state(self, state: dict[str, Any], name: str) -> Path:
        """Writes ``state`` (now, or one taken earlier by ``evaluation_job``) as ``name``,
        unless its weights are no longer finite."""
        if not all(bool(torch.isfinite(value).all()) for value in state["learner"]["online"].values()):
            raise TrainingError(
                "the network's weights are no longer finite (NaN or inf); no checkpoint was written, the last "
                "good one is kept. Lower --set learning_rate=... and resume from latest.pt"
            )
        path = self.run_dir / name
        save_checkpoint(path, state)
        return path

    def evaluator(self) -> BackgroundEvaluator:
        """A background evaluator for this run's game and settings."""
        config = self.config
        return BackgroundEvaluator(
            self.spec.name, PlaySettings.from_config(config), episodes=config.eval_episodes, device=self.device
        )

    def close(self) -> None:
        self.env.close()
