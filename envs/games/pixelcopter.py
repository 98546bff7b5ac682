"""Pixelcopter: fly a copter through a cave with blocks in the way.

Hold (action 0) to accelerate upwards, release (action 1) to fall. Rewards: +1 per block
passed, -1 on crashing into the cave wall or a block, which ends the game.
"""

from __future__ import annotations

import pygame

from envs.games.base import PygameGame

LIFT = -0.45
GRAVITY = 0.3
MAX_SPEED = 3.0
COPTER_X = 12
COPTER_SIZE = 5
CAVE_MARGIN = 5
BLOCK_WIDTH = 6
BLOCK_HEIGHT = 14
# the display drawing (what a person sees; the agent sees flat shapes)
ROCK = (110, 80, 50)
ROCK_LIGHT = (150, 115, 75)
COPTER_BODY = (235, 235, 245)
COPTER_DARK = (60, 60, 80)
BLOCK_SPACING = 36
SCROLL_PIXELS = 1.5


class Pixelcopter(PygameGame):
    width = 64
    height = 64
    action_names = ("HOLD", "RELEASE")

    def _new_game(self) -> None:
        self.copter_y = self.height / 2
        self.copter_velocity = 0.0
        self.blocks: list[list[float]] = []  # [x, top, passed]
        for index in range(3):
            self._add_block(self.width + index * BLOCK_SPACING)

    def _add_block(self, x: float) -> None:
        top = float(self.np_random.integers(CAVE_MARGIN + 2, self.height - CAVE_MARGIN - BLOCK_HEIGHT - 2))
        self.blocks.append([x, top, 0.0])

    def next_block(self) -> list[float]:
        """The first block not yet behind the copter (for scripted play)."""
        return next(block for block in self.blocks if block[0] + BLOCK_WIDTH >= COPTER_X)

    def _advance(self, action: int) -> tuple[float, bool]:
        acceleration = LIFT if action == 0 else GRAVITY
        self.copter_velocity = max(-MAX_SPEED, min(MAX_SPEED, self.copter_velocity + acceleration))
        self.copter_y += self.copter_velocity
        reward = 0.0
        for block in self.blocks:
            block[0] -= SCROLL_PIXELS
            if not block[2] and block[0] + BLOCK_WIDTH < COPTER_X:
                block[2] = 1.0
                reward += 1.0
        if self.blocks[0][0] + BLOCK_WIDTH < 0:
            self.blocks.pop(0)
            self._add_block(self.blocks[-1][0] + BLOCK_SPACING)
        if self._crashed():
            return reward - 1.0, True
        return reward, False

    def _crashed(self) -> bool:
        if self.copter_y < CAVE_MARGIN or self.copter_y + COPTER_SIZE > self.height - CAVE_MARGIN:
            return True
        for x, top, _ in self.blocks:
            if (
                x < COPTER_X + COPTER_SIZE
                and COPTER_X < x + BLOCK_WIDTH
                and top < self.copter_y + COPTER_SIZE
                and self.copter_y < top + BLOCK_HEIGHT
            ):
                return True
        return False

    def _draw(self, canvas: pygame.Surface) -> None:
        canvas.fill((110, 80, 50), (0, 0, self.width, CAVE_MARGIN))
        canvas.fill((110, 80, 50), (0, self.height - CAVE_MARGIN, self.width, CAVE_MARGIN))
        for x, top, _ in self.blocks:
            canvas.fill((110, 80, 50), (int(x), int(top), BLOCK_WIDTH, BLOCK_HEIGHT))
        canvas.fill((240, 240, 240), (COPTER_X, int(self.copter_y), COPTER_SIZE, COPTER_SIZE))

    def _draw_display(self, canvas: pygame.Surface, scale: int) -> None:
        """A rocky cave and pillars, and a helicopter: cabin, window, tail boom with its rotor,
        main rotor and skids."""
        width, height, margin = self.width * scale, self.height * scale, CAVE_MARGIN * scale
        for top in (0, height - margin):
            pygame.draw.rect(canvas, ROCK, (0, top, width, margin))
        for x in range(0, width + 12, 12):  # a rough edge on both walls
            pygame.draw.circle(canvas, ROCK, (x, margin), 5)
            pygame.draw.circle(canvas, ROCK, (x + 6, height - margin), 5)
        for x, top, _ in self.blocks:
            pillar = pygame.Rect(x * scale, top * scale, BLOCK_WIDTH * scale, BLOCK_HEIGHT * scale)
            pygame.draw.rect(canvas, ROCK, pillar, border_radius=5)
            pygame.draw.rect(
                canvas, ROCK_LIGHT, (pillar.left + 3, pillar.top + 4, 4, pillar.height - 8), border_radius=2
            )

        left, top, size = COPTER_X * scale, self.copter_y * scale, COPTER_SIZE * scale
        pygame.draw.line(canvas, COPTER_BODY, (left + 4, top + size * 0.55), (left - 8, top + size * 0.4), 3)
        pygame.draw.circle(canvas, COPTER_DARK, (left - 8, top + size * 0.4), 4, 1)
        pygame.draw.ellipse(canvas, COPTER_BODY, (left + 1, top + 5, size - 1, size * 0.55))
        pygame.draw.ellipse(canvas, (120, 190, 240), (left + size * 0.55, top + 7, size * 0.35, size * 0.3))
        pygame.draw.line(canvas, COPTER_DARK, (left + size / 2, top + 5), (left + size / 2, top + 2), 2)
        pygame.draw.line(canvas, COPTER_DARK, (left - 4, top + 1), (left + size + 4, top + 1), 2)
        for x in (left + 5, left + size - 5):
            pygame.draw.line(canvas, COPTER_DARK, (x, top + size * 0.8), (x, top + size - 2), 1)
        pygame.draw.line(canvas, COPTER_DARK, (left + 1, top + size - 1), (left + size, top + size - 1), 2)
