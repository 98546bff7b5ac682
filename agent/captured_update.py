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
    """Calls ``gradient_step(batch)`` eagerly a few times, then captures and replays it."""

    def __init__(self, gradient_step: GradientStep) -> None:
        self.gradient_step = gradient_step
        self.warm_ups_done = 0
        self.side_stream = torch.cuda.Stream()
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_batch: dict[str, torch.Tensor] = {}
        self.static_metrics: dict[str, torch.Tensor] = {}

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One update; the metrics are the graph's own tensors, overwritten by the next replay."""
        if self.warm_ups_done < WARM_UP_UPDATES:
            self.side_stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side_stream):
                metrics = self.gradient_step(batch)
            torch.cuda.current_stream().wait_stream(self.side_stream)
            self.warm_ups_done += 1
            return metrics
        if self.graph is None:
            self.static_batch = {name: value.clone() for name, value in batch.items()}
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.static_metrics = self.gradient_step(self.static_batch)
        else:
            for name, value in batch.items():
                self.static_batch[name].copy_(value, non_blocking=True)
        self.graph.replay()
        return self.static_metrics
