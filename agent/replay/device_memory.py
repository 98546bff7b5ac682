"""The replay memory with its sampling on the device that holds it (a GPU): index drawing, the
validity rules, n-step returns and prioritized sampling are tensor operations there, so a batch
is drawn, and priorities are updated, without reading anything back to the host.

It is ``ReplayMemory`` with the same contract and the same code for writing: the host keeps
the bookkeeping arrays it writes through, and the slots written since the last batch are
copied to the device before the next one (a few numbers per env and step; the frames go to
the device once, when written). Sampling differs from the host's:

* every slot's validity (a complete transition whose stack stays in its episode and whose
  n-step look-ahead is written) is computed over the whole memory at once;
* indices are drawn in proportion to a weight per slot (1, or priority^alpha, where valid;
  0 elsewhere) by a cumulative sum and a binary search, stratified over the batch for
  priorities as Schaul et al. (2016) do with a sum tree. On a GPU one pass over a million
  slots costs microseconds and needs no synchronisation; on the CPU the host memory's sum
  tree and rejection sampling are faster, which is why both exist. Given the same content,
  both draw from the same distribution (a test checks it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agent.replay.memory import ReplayMemory
from agent.replay.nstep import n_step_returns
from agent.replay.staging import PinnedStaging
from agent.replay.sum_tree import importance_weights


class DeviceReplayMemory(ReplayMemory):
    """``ReplayMemory`` (same arguments, less ``storage_device``: everything lives on ``device``)
    whose batches are drawn on ``device``."""

    def __init__(
        self,
        capacity: int,
        num_streams: int,
        observation_shape: tuple[int, ...],
        *,
        device: torch.device | str = "cpu",
        seed: int = 0,
        prioritized: bool = False,
        **settings: Any,
    ) -> None:
        """``settings``: the rest of ``ReplayMemory``'s keyword arguments (``observation_dtype``,
        ``discount``, ``n_step``, ``priority_alpha``, ``priority_beta``)."""
        self._on = torch.device(device)
        self._max_priority = torch.ones((), dtype=torch.float32, device=self._on)
        super().__init__(
            capacity,
            num_streams,
            observation_shape,
            device=device,
            storage_device=device,
            seed=seed,
            prioritized=False,  # no host sum tree: the priorities live on the device
            **settings,
        )
        self.prioritized = prioritized
        on = self._on
        self.generator = torch.Generator(device=on)
        self.generator.manual_seed(seed)
        self.device_actions = torch.zeros(self.capacity, dtype=torch.int64, device=on)
        self.device_rewards = torch.zeros(self.capacity, dtype=torch.float32, device=on)
        self.device_terminated = torch.zeros(self.capacity, dtype=torch.bool, device=on)
        self.device_truncated = torch.zeros(self.capacity, dtype=torch.bool, device=on)
        self.device_has_transition = torch.zeros(self.capacity, dtype=torch.bool, device=on)
        self.device_frames_written = torch.zeros(num_streams, dtype=torch.int64, device=on)
        self.device_priorities = torch.zeros(self.capacity if prioritized else 0, dtype=torch.float32, device=on)
        self._slot_numbers = torch.arange(self.slots_per_stream, device=on)
        self._written_since_sync: list[np.ndarray] = []
        self._bookkeeping_staging = PinnedStaging(on) if on.type == "cuda" else None

    # -- writing: the host's code, then the touched slots are copied over -------------
    @property
    def max_priority(self) -> float:
        return float(self._max_priority)  # a read back: only when saving

    @max_priority.setter
    def max_priority(self, value: float) -> None:
        self._max_priority.fill_(value)

    def _slots_cleared(self, streams: np.ndarray, slots: np.ndarray) -> None:
        """Cleared slots and new transitions alike reach the device at the next sync (a new
        transition's priority, the largest so far, is set there: nothing is read back)."""
        self._written_since_sync.append(np.asarray(streams) * self.slots_per_stream + np.asarray(slots))

    _transitions_added = _slots_cleared

    def _sync_to_device(self) -> None:
        """Copies the slots written since the last batch (their bookkeeping, and the priority
        of a new transition: the largest so far) to the device."""
        if not self._written_since_sync:
            return
        flat = np.unique(np.concatenate(self._written_since_sync))
        self._written_since_sync.clear()
        index = self._copy_bookkeeping(flat)
        if self.prioritized:
            new = self._max_priority**self.priority_alpha
            self.device_priorities[index] = torch.where(self.device_has_transition[index], new, 0.0)

    def _copy_bookkeeping(self, flat: np.ndarray) -> torch.Tensor:
        """Copies the host's bookkeeping of the ``flat`` slots (and every stream's count of
        frames written) to the device in one copy (through a pinned buffer on a CUDA GPU, the
        host not waiting); returns the slots as a device index."""
        streams, slots = np.divmod(flat, self.slots_per_stream)
        # float64 holds every field exactly: slot numbers, actions, float32 rewards, flags, counts
        packed = np.concatenate(
            [
                flat,
                self.actions[streams, slots],
                self.rewards[streams, slots],
                self.terminated[streams, slots],
                self.truncated[streams, slots],
                self.has_transition[streams, slots],
                self.frames_written,
            ],
            dtype=np.float64,
        )
        if self._bookkeeping_staging is not None:
            on_device = self._bookkeeping_staging.to_device(packed)
        else:
            on_device = torch.from_numpy(packed).to(self._on)
        fields = on_device[: 6 * flat.size].view(6, flat.size)
        index = fields[0].long()
        self.device_actions[index] = fields[1].long()
        self.device_rewards[index] = fields[2].float()
        self.device_terminated[index] = fields[3].bool()
        self.device_truncated[index] = fields[4].bool()
        self.device_has_transition[index] = fields[5].bool()
        self.device_frames_written.copy_(on_device[6 * flat.size :].long())
        return index

    # -- reading ----------------------------------------------------------------------
    def _slot_weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per slot (flat): its sampling weight, whether it is sampleable, and its logical index."""
        slots_per_stream = self.slots_per_stream
        written = self.device_frames_written[:, None]
        newest = written - 1
        logical = newest - (newest - self._slot_numbers) % slots_per_stream
        first = (written - slots_per_stream).clamp(min=0) + self.stack_size - 1
        last = written - 1 - self.n_step
        valid = self.device_has_transition.view(self.num_streams, -1) & (logical >= first) & (logical <= last)
        valid = valid.view(-1)
        weights = self.device_priorities * valid if self.prioritized else valid.to(torch.float64)
        return weights.to(torch.float64), valid, logical.view(-1)

    def _draw(self, batch_size: int, weights: torch.Tensor) -> torch.Tensor:
        """Flat slots drawn in proportion to ``weights`` (stratified when prioritized)."""
        running = torch.cumsum(weights, dim=0)
        total = running[-1]
        uniform = torch.rand(batch_size, generator=self.generator, device=self._on, dtype=torch.float64)
        if self.prioritized:
            targets = (torch.arange(batch_size, device=self._on) + uniform) * total / batch_size
        else:
            targets = uniform * total
        return torch.searchsorted(running, targets, right=True).clamp(max=self.capacity - 1)

    def _stack_rows(self, streams: torch.Tensor, logical_ends: torch.Tensor) -> torch.Tensor:
        offsets = torch.arange(-self.stack_size + 1, 1, device=self._on)
        rows = streams[:, None] * self.slots_per_stream + (logical_ends[:, None] + offsets) % self.slots_per_stream
        frames = self._frame_rows.index_select(0, rows.reshape(-1))
        frames = frames.view(len(streams), self.stack_size, *self.frame_shape)
        return frames if self.stacked else frames[:, 0]

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """The batch ``ReplayMemory.sample`` describes, drawn on the device with no host sync."""
        first, last = self._sampleable_range()
        if (last < first).all():
            raise RuntimeError("the replay memory holds no complete transition yet")
        self._sync_to_device()
        weights, valid, logical_of_slot = self._slot_weights()
        flat = self._draw(batch_size, weights)
        streams = flat // self.slots_per_stream
        logical = logical_of_slot[flat]
        look_ahead = streams[:, None] * self.slots_per_stream + (
            (logical[:, None] + torch.arange(self.n_step, device=self._on)) % self.slots_per_stream
        )
        returns, steps, last_step = n_step_returns(
            self.device_rewards[look_ahead],
            self.device_has_transition[look_ahead],
            self.device_terminated[look_ahead] | self.device_truncated[look_ahead],
            self.discount,
        )
        last_flat = look_ahead.gather(1, last_step[:, None]).squeeze(1)
        terminated = self.device_terminated[last_flat]
        discount = torch.where(terminated, 0.0, self.discount ** steps.to(torch.float64)).float()
        batch = {
            "state": self._stack_rows(streams, logical),
            "action": self.device_actions[flat],
            "reward": returns,
            "next_state": self._stack_rows(streams, logical + steps),
            "terminated": terminated,
            "truncated": self.device_truncated[last_flat],
            "discount": discount,
        }
        if self.prioritized:
            probabilities = weights[flat] / weights.sum()
            population = valid.sum()
            batch["index"] = flat
            batch["weight"] = importance_weights(probabilities, population, self.priority_beta).float()
        return batch

    def update_priorities(
        self, indices: torch.Tensor | np.ndarray, td_errors: torch.Tensor | np.ndarray, epsilon: float = 1e-6
    ) -> None:
        """New priorities (|TD error| + epsilon), set on the device without reading them back."""
        index = torch.as_tensor(indices, device=self._on)
        priorities = torch.as_tensor(td_errors, device=self._on).detach().float().abs() + epsilon
        self._sync_to_device()  # a slot overwritten since the batch was drawn keeps its own priority
        torch.maximum(self._max_priority, priorities.max(), out=self._max_priority)
        still_there = self.device_has_transition[index]
        current = self.device_priorities[index]
        self.device_priorities[index] = torch.where(still_there, priorities**self.priority_alpha, current)

    # -- size and persistence ---------------------------------------------------------
    @property
    def nbytes(self) -> int:
        device_arrays = (
            self.device_actions,
            self.device_rewards,
            self.device_terminated,
            self.device_truncated,
            self.device_has_transition,
            self.device_priorities,
        )
        return super().nbytes + sum(array.element_size() * array.nelement() for array in device_arrays)

    def rng_states(self) -> dict[str, Any]:
        return {**super().rng_states(), "device": self.generator.get_state().tolist()}

    def restore_rng_states(self, states: dict[str, Any]) -> None:
        super().restore_rng_states(states)  # (the host's generator, unused here, is carried for the host memory)
        if "device" in states:
            self.generator.set_state(torch.tensor(states["device"], dtype=torch.uint8))
        self._carried_rng = {}

    def priority_leaves(self) -> np.ndarray | None:
        if not self.prioritized:
            return None
        self._sync_to_device()  # the priorities of transitions written since the last batch
        return self.device_priorities.cpu().numpy()

    def restore_priority_leaves(self, leaves: np.ndarray) -> None:
        if self.prioritized:
            self.device_priorities.copy_(torch.as_tensor(np.asarray(leaves), dtype=torch.float32))

    def after_load(self) -> None:
        """Every slot is copied to the device again; the saved priorities stay as loaded."""
        self._written_since_sync.clear()
        self._copy_bookkeeping(np.arange(self.capacity))
