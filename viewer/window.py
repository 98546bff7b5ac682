"""The live window: the true-colour game scaled up, and a heads-up display with the episode,
the score and each action's Q-value as a bar (the chosen action highlighted)."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from viewer.recording import scale_frame

HUD_WIDTH = 220
HUD_MARGIN = 10
NAME_COLUMN_WIDTH = 90  # action names, cut to 10 characters
SHORTEST_BAR = 10
LABEL_GAP = 4
BACKGROUND = (16, 16, 24)
TEXT = (230, 230, 230)
BAR = (70, 110, 170)
CHOSEN = (240, 180, 60)


def display_available() -> bool:
    """Whether a window can be shown: SDL's dummy driver asked for, X11 or Wayland, or a
    desktop OS (Windows, macOS) that always has a screen."""
    import sys

    if os.environ.get("SDL_VIDEODRIVER") == "dummy":
        return True
    has_x11_or_wayland = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return has_x11_or_wayland or sys.platform in ("win32", "darwin")


class GameWindow:
    """A pygame window; ``show()`` returns False once the user closed it or pressed Esc or q."""

    def __init__(
        self,
        title: str,
        frame_shape: tuple[int, ...],
        scale: int,
        action_names: list[str],
        frames_per_second: float | None,
    ) -> None:
        pygame.display.init()
        pygame.font.init()
        self.scale = scale
        self.action_names = action_names
        self.frames_per_second = frames_per_second
        height, width = frame_shape[:2]
        self.game_size = (width * scale, height * scale)
        self.surface = pygame.display.set_mode(
            (self.game_size[0] + HUD_WIDTH, max(self.game_size[1], 60 + 22 * len(action_names)))
        )
        pygame.display.set_caption(title)
        self.font = pygame.font.Font(None, 20)
        self.clock = pygame.time.Clock()

    def show(self, frame: np.ndarray, *, episode: int, score: float, q_values: np.ndarray | None, action: int) -> bool:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (
                event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)
            ):
                return False
        self.surface.fill(BACKGROUND)
        game = pygame.surfarray.make_surface(np.ascontiguousarray(scale_frame(frame, self.scale).swapaxes(0, 1)))
        self.surface.blit(game, (0, 0))
        self._draw_hud(episode, score, q_values, action)
        pygame.display.flip()
        if self.frames_per_second:
            self.clock.tick(self.frames_per_second)
        return True

    def _draw_hud(self, episode: int, score: float, q_values: np.ndarray | None, action: int) -> None:
        left = self.game_size[0] + HUD_MARGIN
        self.surface.blit(self.font.render(f"episode {episode}   score {score:g}", True, TEXT), (left, 10))
        if q_values is None:
            self.surface.blit(self.font.render("random policy", True, TEXT), (left, 34))
            return
        low, high = float(q_values.min()), float(q_values.max())
        span = max(high - low, 1e-6)
        labels = [f"{float(value):.2f}" for value in q_values]
        # the longest bar ends where its value's text still fits inside the panel
        bar_left = left + NAME_COLUMN_WIDTH
        label_width = max(self.font.size(label)[0] for label in labels)
        longest_bar = self.surface.get_width() - HUD_MARGIN - label_width - LABEL_GAP - bar_left
        for index, (name, value, label) in enumerate(zip(self.action_names, q_values, labels)):
            top = 40 + 22 * index
            length = int(SHORTEST_BAR + (longest_bar - SHORTEST_BAR) * (float(value) - low) / span)
            colour = CHOSEN if index == action else BAR
            pygame.draw.rect(self.surface, colour, (bar_left, top + 3, length, 12))
            self.surface.blit(self.font.render(f"{name[:10]}", True, colour if index == action else TEXT), (left, top))
            self.surface.blit(self.font.render(label, True, TEXT), (bar_left + length + LABEL_GAP, top))

    def close(self) -> None:
        pygame.display.quit()
