"""Evaluation beside training: games played in a thread of their own on a copy of the weights,
so the learner goes on while they run.

Evaluations run one at a time, in the order they were asked for. Each plays the same games
(same seeds, same weights) as a synchronous evaluation at that step would, so the scores are
deterministic; only when they arrive depends on the machine. The copy of the weights is taken
when the evaluation is asked for, together with the run's checkpoint state at that step, which
becomes ``best.pt`` if the evaluation turns out the best so far.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from training.evaluation import PlaySettings, evaluate


@dataclass
class EvaluationJob:
    """One evaluation: the copied weights and the checkpoint state at ``step``."""

    step: int
    seed: int
    network: nn.Module
    checkpoint_state: dict[str, Any]


@dataclass
class EvaluationResult:
    step: int
    scores: list[float]
    checkpoint_state: dict[str, Any]


class BackgroundEvaluator:
    """Plays ``episodes`` eval-mode games of ``game`` for each submitted job, in a daemon thread."""

    def __init__(self, game: str, settings: PlaySettings, *, episodes: int, device: torch.device) -> None:
        self.game = game
        self.settings = settings
        self.episodes = episodes
        self.device = device
        self._jobs: queue.Queue[EvaluationJob | None] = queue.Queue()
        self._results: queue.Queue[EvaluationResult | Exception] = queue.Queue()
        self._pending_steps: list[int] = []
        self._unplayed = 0  # jobs submitted whose games are not over yet
        self._played = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="evaluation", daemon=True)
        self._thread.start()

    @property
    def pending_steps(self) -> list[int]:
        """Steps whose evaluations are queued or running."""
        return list(self._pending_steps)

    def submit(self, job: EvaluationJob) -> None:
        self._pending_steps.append(job.step)
        with self._played:
            self._unplayed += 1
        self._jobs.put(job)

    def wait_until_idle(self) -> None:
        """Returns once the games of every evaluation submitted so far are over (their results
        still wait for ``finished``): until the next ``submit``, this thread uses no device."""
        with self._played:
            while self._unplayed:
                self._played.wait(timeout=0.5)  # timed, so that signal handlers run meanwhile

    def finished(self, *, wait: bool = False) -> list[EvaluationResult]:
        """The evaluations done since the last call, oldest first; with ``wait``, all of the
        pending ones. An evaluation that failed raises its error here."""
        results = []
        while self._pending_steps:
            try:
                # a timed wait, so that signal handlers (a second Ctrl-C) run meanwhile
                result = self._results.get(timeout=0.5) if wait else self._results.get_nowait()
            except queue.Empty:
                if wait:
                    continue
                break
            self._pending_steps.pop(0)
            if isinstance(result, Exception):
                raise result
            results.append(result)
        return results

    def close(self, *, wait: bool = True) -> None:
        """Drops the queued evaluations and stops the thread once the one it is playing (if
        any) ends; without ``wait``, returns at once (the daemon thread ends with the program)."""
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
            self._count_played()
        self._jobs.put(None)
        if wait:
            self._thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                scores = evaluate(
                    job.network, self.game, self.settings, episodes=self.episodes, seed=job.seed, device=self.device
                )
                self._results.put(EvaluationResult(job.step, scores, job.checkpoint_state))
            except Exception as error:  # noqa: BLE001 (handed to the training thread, which raises it)
                self._results.put(error)
            self._count_played()

    def _count_played(self) -> None:
        with self._played:
            self._unplayed -= 1
            self._played.notify_all()
