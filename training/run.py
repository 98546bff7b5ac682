"""Drives a ``Trainer`` to its end: the progress display, logs, evaluations, checkpoints and a
clean stop on Ctrl-C, SIGTERM or the wall-clock budget."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np

from training.background_evaluation import BackgroundEvaluator
from training.logs import RunLogger
from training.trainer import Trainer, TrainingError

SCORE_SHOWN_OVER_GAMES = 20  # the progress line's score: the mean of this many latest games
LONG_RUN_SECONDS = 12 * 3600  # a run on the CPU expected to take longer is told what to expect
# what the project's 2-core CPU reached, for that hint (docs/results.md has the runs)
MEASURED_ON_A_CPU = "Breakout reached 41.1 after 1M agent steps in about 2.5 hours of training"


class ProgressDisplay:
    """A live tqdm bar on a terminal; one plain line every ``line_every_seconds`` otherwise."""

    def __init__(self, total_steps: int, start_step: int, line_every_seconds: float = 30.0) -> None:
        self.interactive = sys.stderr.isatty()
        self.total_steps = total_steps
        self.line_every_seconds = line_every_seconds
        self._last_line = 0.0
        self.bar = None
        if self.interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, smoothing=0.05)

    def update(self, step: int, fields: dict[str, str], seconds_left: float | None) -> None:
        if self.bar is not None:
            self.bar.n = min(step, self.total_steps)
            self.bar.set_postfix(fields, refresh=False)
            self.bar.refresh()
            return
        now = time.monotonic()
        if now - self._last_line >= self.line_every_seconds:
            self._last_line = now
            left = f" time left {format_seconds(seconds_left)}" if seconds_left is not None else ""
            print(
                f"step {step:,}/{self.total_steps:,} " + " ".join(f"{k} {v}" for k, v in fields.items()) + left,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def run_training(
    trainer: Trainer, logger: RunLogger, *, total_steps: int, deadline_seconds: float | None = None
) -> str:
    """Trains until ``total_steps``, the deadline, or a stop request; saves ``latest.pt``
    on the way out. Returns why it stopped: ``done``, ``time`` or ``interrupted``."""
    progress, schedule = trainer.progress, trainer.schedule
    started = time.monotonic()
    wall_at_start = progress.wall_seconds
    display = ProgressDisplay(total_steps, progress.agent_step)
    rate = StepRate(progress.agent_step)
    hinted = False  # the long-run hint, once
    reason = "done"
    latest_metrics = None  # of the newest update: with one env, most steps run none
    evaluator = trainer.evaluator() if trainer.config.evaluate_in_background else None
    if evaluator is not None:
        # a CUDA graph is captured while no other thread uses the GPU (agent/captured_update.py)
        trainer.learner.before_capture = evaluator.wait_until_idle
    try:
        while progress.agent_step < total_steps:
            if trainer.stop_requested:
                reason = "interrupted"
                break
            if deadline_seconds is not None and time.monotonic() - started >= deadline_seconds:
                reason = "time"
                break
            ended, metrics = trainer.train_step()
            latest_metrics = metrics if metrics is not None else latest_metrics
            step = progress.agent_step
            for score, length in ended:
                logger.scalar("episode/score", score, step)
                logger.scalar("episode/length", length, step)

            due = schedule.take_due()
            if due.log:
                learning_all_along = rate.step > schedule.updates_start_step
                steps_per_second = rate.measure(step)
                if not hinted and learning_all_along:  # a speed measured with the learner running
                    hint = long_run_hint(trainer.device, total_steps - step, steps_per_second, trainer.run_dir)
                    hinted = True
                    if hint:
                        print(hint, flush=True)
                log_training(logger, trainer, latest_metrics, steps_per_second)
                latest_metrics = None
                seconds_left = (total_steps - step) / steps_per_second if steps_per_second > 0 else None
                if deadline_seconds is not None:
                    budget_left = deadline_seconds - (time.monotonic() - started)
                    seconds_left = budget_left if seconds_left is None else min(seconds_left, budget_left)
                display.update(step, status_fields(trainer, steps_per_second), seconds_left)
            if due.evaluate:
                if evaluator is None:
                    record_evaluation(trainer, logger, progress.agent_step, trainer.evaluate())
                else:
                    evaluator.submit(trainer.evaluation_job())
            if evaluator is not None:
                for result in evaluator.finished():
                    record_evaluation(trainer, logger, result.step, result.scores, result.checkpoint_state)
            if due.checkpoint:
                progress.wall_seconds = wall_at_start + time.monotonic() - started
                trainer.keep_periodic_copy(trainer.save("latest.pt"))
                logger.flush()
    except BaseException:
        if evaluator is not None:
            evaluator.close(wait=False)  # the error is reported now, not after the games in play
        raise
    finally:
        display.close()
    if evaluator is not None:
        finish_evaluations(trainer, logger, evaluator)
    progress.wall_seconds = wall_at_start + time.monotonic() - started
    trainer.save("latest.pt")
    if not (trainer.run_dir / "best.pt").exists():
        trainer.save("best.pt")
    logger.plot_learning_curve(f"{trainer.spec.name}: DQN")
    logger.flush()
    return reason


def long_run_hint(device: Any, steps_left: int, steps_per_second: float, run_dir: Any) -> str | None:
    """Two lines for a run on the CPU that would take more than ``LONG_RUN_SECONDS`` at the
    speed it trains at: how long, what a CPU reached overnight, how to train in parts; ``None``
    on a GPU or for a shorter run."""
    if getattr(device, "type", device) != "cpu" or steps_per_second <= 0:
        return None
    seconds = steps_left / steps_per_second
    if seconds <= LONG_RUN_SECONDS:
        return None
    return (
        f"note: at {steps_per_second:,.0f} agent steps/s on this CPU, the {steps_left:,} steps left take about "
        f"{seconds / 3600:,.0f} hours. On a 2-core CPU, {MEASURED_ON_A_CPU}.\n"
        f"note: add --hours 8 to stop in the morning and go on with python train.py --resume {run_dir}; "
        "a CUDA GPU (--device cuda) trains many times faster."
    )


class StepRate:
    """Agent steps per second since the last measurement."""

    def __init__(self, step: int) -> None:
        self.clock, self.step = time.monotonic(), step

    def measure(self, step: int) -> float:
        now = time.monotonic()
        rate = (step - self.step) / max(now - self.clock, 1e-9)
        self.clock, self.step = now, step
        return rate


def log_training(logger: RunLogger, trainer: Trainer, metrics: dict | None, steps_per_second: float) -> None:
    """The periodic training scalars; stops the run on a non-finite loss."""
    step = trainer.progress.agent_step
    logger.scalar("train/epsilon", trainer.exploration_epsilon(), step)
    logger.scalar("train/steps_per_second", steps_per_second, step)
    if metrics is None:
        return
    loss = float(metrics["loss"])
    if not math.isfinite(loss):
        raise TrainingError(
            f"the loss became {loss} at step {step:,}; training stopped and latest.pt was not overwritten. "
            "Lower the learning rate (--set learning_rate=...) and resume from the last good checkpoint"
        )
    logger.scalar("train/loss", loss, step)
    logger.scalar("train/mean_q", float(metrics["mean_q"]), step)


def status_fields(trainer: Trainer, steps_per_second: float) -> dict[str, str]:
    recent = trainer.recent_scores[-SCORE_SHOWN_OVER_GAMES:]
    return {
        "sps": f"{steps_per_second:,.0f}",
        "episodes": f"{trainer.progress.episodes:,}",
        "score": f"{np.mean(recent):.1f}" if recent else "-",
        "eps": f"{trainer.exploration_epsilon():.3f}",
    }


def record_evaluation(
    trainer: Trainer,
    logger: RunLogger,
    step: int,
    scores: list[float],
    checkpoint_state: dict[str, Any] | None = None,
) -> None:
    """Logs the evaluation of the weights at ``step`` and keeps them as ``best.pt`` if they
    scored best so far (``checkpoint_state``: the run as it was at ``step``; ``None``: now)."""
    progress = trainer.progress
    mean = float(np.mean(scores))
    logger.scalar("eval/mean_score", mean, step)
    logger.scalar("eval/std_score", float(np.std(scores)), step)
    if mean > progress.best_eval_score:
        progress.best_eval_score = mean
        if checkpoint_state is None:
            trainer.save("best.pt")
        else:
            checkpoint_state["progress"]["best_eval_score"] = mean
            trainer.save_state(checkpoint_state, "best.pt")
    logger.plot_learning_curve(f"{trainer.spec.name}: DQN")
    logger.flush()


def finish_evaluations(trainer: Trainer, logger: RunLogger, evaluator: BackgroundEvaluator) -> None:
    """Waits for the evaluations still playing, records them and stops the evaluator."""
    try:
        if evaluator.pending_steps:
            steps = ", ".join(f"{step:,}" for step in evaluator.pending_steps)
            print(f"finishing the evaluation at step {steps} (Ctrl-C to exit at once)", flush=True)
        for result in evaluator.finished(wait=True):
            record_evaluation(trainer, logger, result.step, result.scores, result.checkpoint_state)
    finally:
        evaluator.close()
