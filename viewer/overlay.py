"""The score written onto recorded frames (``play.py --score-overlay``): a dark band across the
top of the frame with the game number and the score so far, so a shared GIF or MP4 says how
well the agent is doing."""

from __future__ import annotations

import functools
import os

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

BAND_COLOUR = (0, 0, 0)
BAND_OPACITY = 150
TEXT_COLOUR = (255, 255, 255)
SMALLEST_TEXT = 12


@functools.lru_cache(maxsize=8)
def _font(size: int) -> pygame.font.Font:
    pygame.font.init()
    return pygame.font.Font(None, size)


def with_score(frame: np.ndarray, *, episode: int, score: float) -> np.ndarray:
    """A copy of the ``(height, width, 3) uint8`` frame with ``game N  score S`` on a band at its top."""
    height, width = frame.shape[:2]
    font = _font(max(SMALLEST_TEXT, height // 12))
    text = font.render(f"game {episode}   score {score:g}", True, TEXT_COLOUR)
    surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
    band = pygame.Surface((width, text.get_height() + 4), pygame.SRCALPHA)
    band.fill((*BAND_COLOUR, BAND_OPACITY))
    surface.blit(band, (0, 0))
    surface.blit(text, (4, 2))
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).swapaxes(0, 1))
