"""The games' worker threads and processes give way to the thread that drives training.

A vector env steps its games in workers (ale-py's C++ threads, gymnasium's subprocesses) that
sleep between vector steps. When ``send`` wakes them, Linux lets a woken thread preempt the
one running, so where there is no idle core the training thread, which runs the updates while
the games step (and on a GPU launches their kernels), loses its core until a worker yields.
Scheduled as ``SCHED_BATCH`` the workers wake without preempting: they take the cores left idle
at once and the rest when the training thread waits for them, so both kinds of work fill the
cores. On a 2-core CPU this made the overlapped loop 1.2x to 1.3x faster (``bench/train_throughput.py``,
README). ``SCHED_BATCH`` needs no privilege; elsewhere than Linux nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

Created = TypeVar("Created")
_TASKS = "/proc/self/task"


def _thread_ids() -> set[int]:
    try:
        return {int(name) for name in os.listdir(_TASKS)}
    except OSError:  # no /proc (not Linux)
        return set()


def threads_started_by(create: Callable[[], Created]) -> tuple[Created, list[int]]:
    """Calls ``create()``; returns what it made and the ids of the threads it started in this
    process (another thread starting one meanwhile would be counted too)."""
    before = _thread_ids()
    created = create()
    return created, sorted(_thread_ids() - before)


def without_wakeup_preemption(ids: Iterable[int]) -> None:
    """Schedules these threads or processes as ``SCHED_BATCH`` (Linux; elsewhere a no-op). One
    that has ended meanwhile is left alone."""
    if not hasattr(os, "SCHED_BATCH"):
        return
    for thread_or_process in ids:
        try:
            os.sched_setscheduler(thread_or_process, os.SCHED_BATCH, os.sched_param(0))
        except (ProcessLookupError, PermissionError):
            continue
