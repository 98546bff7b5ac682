"""Replay memory that stores each frame once (``memory.py``), with n-step returns
(``nstep.py``), proportional prioritized sampling (``sum_tree.py``) and saving to disk
(``persistence.py``)."""

from agent.replay.memory import ReplayMemory, smallest_capacity
from agent.replay.sum_tree import SumTree

__all__ = ["ReplayMemory", "SumTree", "smallest_capacity"]
