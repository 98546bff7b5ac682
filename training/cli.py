"""What the command lines (``train.py``, ``play.py``, ``sweep.py``) share: bad input is
reported on one line with exit code 2, before any work starts."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

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


class CommandLineParser(argparse.ArgumentParser):
    """argparse whose own errors (a missing value, a word where a number goes) are one line
    and exit code 2 too, like every other refusal."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(USAGE_EXIT_CODE)
