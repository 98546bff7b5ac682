"""The whole gradient step captured once as a CUDA graph and replayed (CUDA only).

An eager update launches tens of small kernels from Python; on a GPU their launch cost, not
the arithmetic, bounds the updates per second. Captured, one ``replay()`` launches them all.

How (PyTorch's "whole network capture"): the first ``WARM_UP_UPDATES`` updates run eagerly on
a side stream (real updates on real batches: the allocator, cuDNN and the optimizer's state
settle); the next one is captured into a graph, with the batch copied into tensors the graph
owns, and every update from then on copies its batch there and replays the graph. The step
must keep fixed shapes and no host reads: the learner's gradient step does (forwards, Double
DQN, Huber loss, backward, gradient clipping, the optimizer step with ``capturable=True``,
soft target updates). A hard target sync copies the weights in place, so the captured
addresses hold; a learning rate is fixed at capture.

Not yet measured on a GPU (none has been lent to this project's sessions): off unless
``captured_update=true``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

WARM_UP_UPDATES = 3

GradientStep = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


class CapturedUpdate:
    """Calls ``gradient_step(batch)`` eagerly a few times, then captures and replays it.

    Everything runs on ``device``'s own streams (with ``--device cuda:1`` the current device
    may be another GPU). ``before_capture`` is called once, just before the capture: the run
    loop lets the background evaluations finish there. The capture also runs in the
    ``thread_local`` error mode, so that work another thread queues meanwhile (an evaluation
    that starts anyway) neither fails nor invalidates the capture."""

    def __init__(
        self, gradient_step: GradientStep, device: torch.device, *, before_capture: Callable[[], None] = lambda: None
    ) -> None:
        self.gradient_step = gradient_step
        self.device = device
        self.before_capture = before_capture
        self.warm_ups_done = 0
        self.side_stream = torch.cuda.Stream(device=device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_batch: dict[str, torch.Tensor] = {}
        self.static_metrics: dict[str, torch.Tensor] = {}

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One update; the metrics are the graph's own tensors, overwritten by the next replay."""
        with torch.cuda.device(self.device):
            if self.warm_ups_done < WARM_UP_UPDATES:
                return self._warm_up(batch)
            if self.graph is None:
                self._capture(batch)
            else:
                for name, value in batch.items():
                    self.static_batch[name].copy_(value, non_blocking=True)
            self.graph.replay()
            return self.static_metrics

    def _warm_up(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        current = torch.cuda.current_stream(self.device)
        self.side_stream.wait_stream(current)
        with torch.cuda.stream(self.side_stream):
            metrics = self.gradient_step(batch)
        current.wait_stream(self.side_stream)
        self.warm_ups_done += 1
        return metrics

    def _capture(self, batch: dict[str, torch.Tensor]) -> None:
        self.before_capture()
        self.static_batch = {name: value.clone() for name, value in batch.items()}
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=self.side_stream, capture_error_mode="thread_local"):
            self.static_metrics = self.gradient_step(self.static_batch)
        self.graph = graph
