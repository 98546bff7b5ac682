"""When each periodic thing of a run is due, counted in agent steps: gradient updates (the
replay ratio), hard target syncs, log lines, evaluations and checkpoints.

``Progress`` holds the counters a resume restores; ``Schedule`` is the only code that moves
the schedule counters in it. The loop asks it what is due now and acts on the answer; it
never keeps a schedule of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent.config import DQNConfig


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
    # Updates count from this step (None: from ``learning_starts``), with this many done by
    # then: a run resumed without its replay memory refills it before updating again.
    update_anchor_step: int | None = None
    update_anchor_count: int = 0


@dataclass(frozen=True)
class Due:
    """What the loop does after this step, besides the updates the trainer ran."""

    log: bool
    evaluate: bool
    checkpoint: bool


class Schedule:
    """Answers what is due at ``progress.agent_step`` (see the module docstring)."""

    def __init__(self, config: DQNConfig, progress: Progress) -> None:
        self.config = config
        self.progress = progress
        self.next_log_step = progress.agent_step + config.log_every_steps

    @classmethod
    def new_progress(cls, config: DQNConfig) -> Progress:
        return Progress(next_eval_step=config.eval_every_steps, next_checkpoint_step=config.checkpoint_every_steps)

    # -- the trainer's part -------------------------------------------------------------
    @property
    def updates_start_step(self) -> int:
        anchor = self.progress.update_anchor_step
        return self.config.learning_starts if anchor is None else anchor

    def updates_due(self, updates_done: int) -> int:
        """Gradient updates to run now: one per ``update_period_steps`` agent steps from the
        first, however many envs stepped at once."""
        step, start = self.progress.agent_step, self.updates_start_step
        if step < start:
            return 0
        wanted = self.progress.update_anchor_count + (step - start) // self.config.update_period_steps + 1
        return max(wanted - updates_done, 0)

    def refill_before_updating(self, transitions: int, updates_done: int) -> None:
        """Updates pause for ``transitions`` agent steps (an empty replay memory fills up first),
        then go on at the same replay ratio, with no burst of catch-up updates."""
        self.progress.update_anchor_step = self.progress.agent_step + transitions
        self.progress.update_anchor_count = updates_done

    def take_target_sync(self) -> bool:
        """Whether a hard target sync is due now (it is then counted as done)."""
        progress, period = self.progress, self.config.target_update_period_steps
        if (
            self.config.target_update_tau < 1.0
            or progress.agent_step // period <= progress.last_target_sync_step // period
        ):
            return False
        progress.last_target_sync_step = progress.agent_step
        return True

    # -- the loop's part ----------------------------------------------------------------
    def take_due(self) -> Due:
        """What is due now; each answer is counted as done, so it comes once."""
        step, config, progress = self.progress.agent_step, self.config, self.progress
        log = step >= self.next_log_step
        if log:
            self.next_log_step = step + config.log_every_steps
        evaluate = step >= progress.next_eval_step
        while progress.next_eval_step <= step:
            progress.next_eval_step += config.eval_every_steps
        checkpoint = step >= progress.next_checkpoint_step
        while progress.next_checkpoint_step <= step:
            progress.next_checkpoint_step += config.checkpoint_every_steps
        return Due(log=log, evaluate=evaluate, checkpoint=checkpoint)
