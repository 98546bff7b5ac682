"""Where pygame draws: the one place that sets SDL's environment variables.

They must be set before pygame is imported: ``envs.games.base`` calls this on import (off-screen
when there is no display), and ``play.py --headless`` asks for off-screen drawing outright.
"""

from __future__ import annotations

import os


def prefer_headless_video(force: bool = False) -> None:
    """SDL's dummy (off-screen) video driver when there is no display or ``force``; no sound."""
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if force:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    elif not has_display:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
