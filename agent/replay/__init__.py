"""Replay memory that stores each frame once (``memory.py``; ``device_memory.py`` samples on
the device that holds it), with n-step returns
(``nstep.py``), proportional prioritized sampling (``sum_tree.py``) and saving to disk
(``persistence.py``)."""

from agent.replay.device_memory import DeviceReplayMemory
from agent.replay.memory import ReplayMemory, smallest_capacity
from agent.replay.sum_tree import SumTree

__all__ = ["DeviceReplayMemory", "ReplayMemory", "SumTree", "smallest_capacity"]
