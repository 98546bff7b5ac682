"""Snake on a 16x16 grid: eat the food to grow; the game ends on hitting a wall or itself.

Rewards: +1 per food eaten, -1 on death. Actions: up, down, left, right, do nothing (keep
going). Turning straight back into the body is ignored, as in PLE.
"""

from __future__ import annotations

import pygame

from envs.games.base import PygameGame

GRID_CELLS = 16
CELL_PIXELS = 4
DIRECTIONS = ((0, -1), (0, 1), (-1, 0), (1, 0))  # up, down, left, right
START_LENGTH = 3
# Colours whose grayscale levels (what the agent sees) stand well apart: food brightest, then
# the head, then the body, on the dark background. Red food on a green body, as first drawn,
# came out at 118 and 124 of 255: the food looked like a piece of the body.
FOOD_COLOUR = (255, 240, 120)
HEAD_COLOUR = (110, 220, 110)
BODY_COLOUR = (40, 140, 40)


class Snake(PygameGame):
    width = GRID_CELLS * CELL_PIXELS
    height = GRID_CELLS * CELL_PIXELS
    action_names = ("UP", "DOWN", "LEFT", "RIGHT", "NOOP")

    def _new_game(self) -> None:
        middle = GRID_CELLS // 2
        self.body = [(middle - index, middle) for index in range(START_LENGTH)]  # head first
        self.direction = (1, 0)
        self._place_food()

    def _place_food(self) -> None:
        occupied = set(self.body)
        free = [(x, y) for x in range(GRID_CELLS) for y in range(GRID_CELLS) if (x, y) not in occupied]
        self.food = free[int(self.np_random.integers(len(free)))]

    def _advance(self, action: int) -> tuple[float, bool]:
        if action < len(DIRECTIONS):
            wanted = DIRECTIONS[action]
            if (wanted[0] + self.direction[0], wanted[1] + self.direction[1]) != (0, 0):
                self.direction = wanted
        head_x, head_y = self.body[0]
        head = (head_x + self.direction[0], head_y + self.direction[1])
        eats = head == self.food
        body_after_move = self.body if eats else self.body[:-1]
        if not (0 <= head[0] < GRID_CELLS and 0 <= head[1] < GRID_CELLS) or head in body_after_move:
            return -1.0, True
        self.body = [head, *body_after_move]
        if eats:
            if len(self.body) == GRID_CELLS * GRID_CELLS:
                return 1.0, True
            self._place_food()
            return 1.0, False
        return 0.0, False

    def _draw(self, canvas: pygame.Surface) -> None:
        canvas.fill(FOOD_COLOUR, (self.food[0] * CELL_PIXELS, self.food[1] * CELL_PIXELS, CELL_PIXELS, CELL_PIXELS))
        for index, (x, y) in enumerate(self.body):
            colour = HEAD_COLOUR if index == 0 else BODY_COLOUR
            canvas.fill(colour, (x * CELL_PIXELS, y * CELL_PIXELS, CELL_PIXELS, CELL_PIXELS))
