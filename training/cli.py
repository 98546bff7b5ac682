"""What the command lines (``train.py``, ``play.py``, ``sweep.py``) share: bad input is
reported on one line with exit code 2, before any work starts."""

from __future__ import annotations

import sys

USAGE_EXIT_CODE = 2


class UsageError(Exception):
    """Bad command-line input: reported on one line, exit code 2."""


def report_usage_error(error: Exception) -> int:
    """Prints ``error`` as the command line's one-line message; returns the exit code."""
    print(f"error: {error}", file=sys.stderr)
    return USAGE_EXIT_CODE


def require(condition: bool, message: str) -> None:
    """Refuses bad input with ``message`` (what to do instead)."""
    if not condition:
        raise UsageError(message)
