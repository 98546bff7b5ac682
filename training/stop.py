"""Clean stops for the command lines: the first Ctrl-C or SIGTERM asks the program to finish
what it is doing (train.py saves, play.py closes its recordings); a second Ctrl-C exits at once."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def install_stop_handlers(on_first: Callable[[], None]) -> None:
    """Calls ``on_first`` on the first SIGINT/SIGTERM; exits with 130 on the second."""

    def handler(signum: int, frame: Any) -> None:
        if getattr(handler, "fired", False):
            print("\nsecond interrupt: exiting now", file=sys.stderr, flush=True)
            os._exit(130)
        handler.fired = True  # type: ignore[attr-defined]
        on_first()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def raise_keyboard_interrupt() -> None:
    """For ``install_stop_handlers`` in a program that stops through ``KeyboardInterrupt``
    (Python's own Ctrl-C), so SIGTERM, and SIGINT where a shell ignored it, do the same."""
    raise KeyboardInterrupt
