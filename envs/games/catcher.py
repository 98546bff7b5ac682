"""Catcher: a paddle at the bottom catches fruit falling from the top.

Rewards (PLE's): +1 per fruit caught, -1 per fruit missed. The game ends after
``LIVES`` misses. Actions: left, right, do nothing.
"""

from __future__ import annotations

import pygame

from envs.games.base import PygameGame

PADDLE_WIDTH = 14
PADDLE_HEIGHT = 3
PADDLE_SPEED_PIXELS = 3.0
FRUIT_SIZE = 5
FRUIT_SPEED_PIXELS = 1.5
LIVES = 3


class Catcher(PygameGame):
    width = 64
    height = 64
    action_names = ("LEFT", "RIGHT", "NOOP")

    def _new_game(self) -> None:
        self.paddle_x = (self.width - PADDLE_WIDTH) / 2
        self.lives = LIVES
        self._drop_fruit()

    def _drop_fruit(self) -> None:
        self.fruit_x = float(self.np_random.integers(0, self.width - FRUIT_SIZE))
        self.fruit_y = 0.0

    def _advance(self, action: int) -> tuple[float, bool]:
        if action == 0:
            self.paddle_x -= PADDLE_SPEED_PIXELS
        elif action == 1:
            self.paddle_x += PADDLE_SPEED_PIXELS
        self.paddle_x = min(max(self.paddle_x, 0.0), self.width - PADDLE_WIDTH)
        self.fruit_y += FRUIT_SPEED_PIXELS
        paddle_top = self.height - PADDLE_HEIGHT
        if self.fruit_y + FRUIT_SIZE < paddle_top:
            return 0.0, False
        caught = self.paddle_x - FRUIT_SIZE < self.fruit_x < self.paddle_x + PADDLE_WIDTH
        self._drop_fruit()
        if caught:
            return 1.0, False
        self.lives -= 1
        return -1.0, self.lives == 0

    def _draw(self, canvas: pygame.Surface) -> None:
        canvas.fill((230, 60, 60), (int(self.fruit_x), int(self.fruit_y), FRUIT_SIZE, FRUIT_SIZE))
        canvas.fill((90, 200, 90), (int(self.paddle_x), self.height - PADDLE_HEIGHT, PADDLE_WIDTH, PADDLE_HEIGHT))

    def _draw_display(self, canvas: pygame.Surface, scale: int) -> None:
        """An apple falling into a woven basket; the lives left as hearts."""
        radius = FRUIT_SIZE * scale / 2
        centre_x = (self.fruit_x + FRUIT_SIZE / 2) * scale
        centre_y = (self.fruit_y + FRUIT_SIZE / 2) * scale
        pygame.draw.circle(canvas, (215, 40, 40), (centre_x, centre_y), radius)
        pygame.draw.circle(canvas, (255, 150, 150), (centre_x - radius / 3, centre_y - radius / 3), radius / 4)
        pygame.draw.line(
            canvas, (100, 60, 20), (centre_x, centre_y - radius + 1), (centre_x + 2, centre_y - radius - 4), 2
        )
        pygame.draw.ellipse(canvas, (70, 170, 60), (centre_x + 2, centre_y - radius - 5, 7, 4))

        left, right = self.paddle_x * scale, (self.paddle_x + PADDLE_WIDTH) * scale
        top, bottom = (self.height - PADDLE_HEIGHT) * scale - scale, self.height * scale - 1
        pygame.draw.polygon(
            canvas, (170, 115, 55), [(left, top), (right, top), (right - 5, bottom), (left + 5, bottom)]
        )
        for row in range(int(top) + 4, int(bottom), 4):  # the weave
            pygame.draw.line(canvas, (120, 75, 35), (left + 2, row), (right - 2, row), 1)
        for column in range(int(left) + 6, int(right) - 4, 6):
            pygame.draw.line(canvas, (120, 75, 35), (column, top + 3), (column, bottom - 1), 1)
        pygame.draw.line(canvas, (205, 150, 85), (left - 1, top), (right + 1, top), 3)  # the rim

        for life in range(self.lives):
            x, y = 6 + life * 12, 6
            pygame.draw.circle(canvas, (230, 60, 90), (x, y), 3)
            pygame.draw.circle(canvas, (230, 60, 90), (x + 5, y), 3)
            pygame.draw.polygon(canvas, (230, 60, 90), [(x - 3, y + 1), (x + 8, y + 1), (x + 2.5, y + 7)])
