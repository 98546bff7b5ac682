"""Host-to-GPU copies of the new frames through page-locked (pinned) buffers.

A copy from ordinary (pageable) memory makes the host wait until the GPU has the data; from a
pinned buffer it is queued and the host goes on (to step the envs, say) while it runs. A buffer
is written again only once the copy that last read it has finished: each buffer has a CUDA
event, and the buffers take turns, so by a buffer's next turn its copy is long done. CUDA only
(pinning needs it); the replay memory uses it where its frames live on a CUDA GPU.
"""

from __future__ import annotations

import numpy as np
import torch

BUFFERS = 2


class PinnedStaging:
    """Copies NumPy arrays to ``device`` through ``BUFFERS`` pinned buffers taken in turn."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._buffers: list[torch.Tensor | None] = [None] * BUFFERS
        self._copied = [torch.cuda.Event() for _ in range(BUFFERS)]
        self._turn = 0

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        """``array`` as a tensor on the device; the copy may still be running when this returns
        (later work on the device's current stream runs after it)."""
        turn = self._turn
        self._turn = (turn + 1) % BUFFERS
        source = torch.from_numpy(np.ascontiguousarray(array))
        buffer = self._buffers[turn]
        if buffer is None or buffer.dtype != source.dtype or buffer.numel() < source.numel():
            buffer = torch.empty(source.numel(), dtype=source.dtype, pin_memory=True)
            self._buffers[turn] = buffer
        else:
            self._copied[turn].synchronize()  # the copy that last read this buffer is done
        staged = buffer[: source.numel()].view(source.shape)
        staged.copy_(source)
        on_device = staged.to(self.device, non_blocking=True)
        # the copy runs on the target device's stream, which need not be the current device's
        self._copied[turn].record(torch.cuda.current_stream(self.device))
        return on_device
