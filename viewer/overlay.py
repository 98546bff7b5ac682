"""The score written onto recorded frames (``play.py --score-overlay``): a dark band added
above the game with the game number and the score so far, so a shared GIF or MP4 says how well
the agent is doing, while the game's own score (Breakout's, PLEPong's, at the top of their
screens) stays in view."""

from __future__ import annotations

import functools
import os

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

BAND_COLOUR = (0, 0, 0)
TEXT_COLOUR = (255, 255, 255)
SMALLEST_TEXT = 12


@functools.lru_cache(maxsize=8)
def _font(size: int) -> pygame.font.Font:
    pygame.font.init()
    return pygame.font.Font(None, size)


def band_height(frame_height: int) -> int:
    """Rows of the band above a frame of ``frame_height`` rows (even, for H.264)."""
    height = _font(max(SMALLEST_TEXT, frame_height // 12)).get_height() + 4
    return height + height % 2


def with_score(frame: np.ndarray, *, episode: int, score: float) -> np.ndarray:
    """The ``(height, width, 3) uint8`` frame under a band of ``band_height(height)`` rows that
    says ``game N  score S``: the frame comes back taller, the game itself untouched."""
    height, width = frame.shape[:2]
    font = _font(max(SMALLEST_TEXT, height // 12))
    band = band_height(height)
    framed = np.empty((band + height, width, 3), dtype=np.uint8)
    framed[:band] = BAND_COLOUR
    framed[band:] = frame
    surface = pygame.surfarray.make_surface(np.ascontiguousarray(framed[:band].swapaxes(0, 1)))
    surface.blit(font.render(f"game {episode}   score {score:g}", True, TEXT_COLOUR), (4, 2))
    framed[:band] = pygame.surfarray.array3d(surface).swapaxes(0, 1)
    return framed
