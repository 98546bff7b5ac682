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
