"""Snake on a 10x10 grid: eat the apple to grow; the game ends on hitting a wall or itself,
or on starving (no apple for ``HUNGER_LIMIT`` moves).

Rewards: +1 per apple eaten, -1 when the game ends. Actions: up, down, left, right, do
nothing (keep going). Turning straight back into the body is ignored, as in PLE.

Why this shape (the 16x16 board of the first version did not learn in 150k steps): a random
snake dies within 10 to 30 moves and finds an apple in 1 game of 10 whatever the board; what
decides learning is what happens once the agent has learned not to die. On a big board with
no hunger, circling in place avoids the -1 forever and earns nothing, and with exploration
down to 5% the agent rarely stumbles on an apple again. Hunger makes circling as bad as dying,
and the smaller board keeps the apple a few moves away. Each cell is 8x8 pixels, so the
84x84 view shows every cell at nearly full size.
"""

from __future__ import annotations

import itertools

import pygame

from envs.games.base import PygameGame

GRID_CELLS = 10
CELL_PIXELS = 8
DIRECTIONS = ((0, -1), (0, 1), (-1, 0), (1, 0))  # up, down, left, right
START_LENGTH = 3
HUNGER_LIMIT = GRID_CELLS * GRID_CELLS
"""Moves without eating before the snake starves (ends the game like a crash)."""
# Colours whose grayscale levels (what the agent sees) stand well apart: the apple brightest,
# then the head, then the body, on the dark background. Red food on a green body, as first
# drawn, came out at 118 and 124 of 255: the food looked like a piece of the body.
APPLE_COLOUR = (255, 236, 110)
APPLE_STEM_COLOUR = (120, 80, 40)
APPLE_LEAF_COLOUR = (90, 200, 90)
HEAD_COLOUR = (120, 225, 120)
BODY_COLOUR = (40, 140, 40)
EYE_COLOUR = (15, 15, 25)


class Snake(PygameGame):
    width = GRID_CELLS * CELL_PIXELS
    height = GRID_CELLS * CELL_PIXELS
    action_names = ("UP", "DOWN", "LEFT", "RIGHT", "NOOP")

    def _new_game(self) -> None:
        middle = GRID_CELLS // 2
        self.body = [(middle - index, middle) for index in range(START_LENGTH)]  # head first
        self.direction = (1, 0)
        self.moves_since_food = 0
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
            self.moves_since_food = 0
            if len(self.body) == GRID_CELLS * GRID_CELLS:
                return 1.0, True
            self._place_food()
            return 1.0, False
        self.moves_since_food += 1
        if self.moves_since_food >= HUNGER_LIMIT:
            return -1.0, True
        return 0.0, False

    def _draw(self, canvas: pygame.Surface) -> None:
        self._draw_apple(canvas, *self._cell_origin(self.food))
        for index, cell in reversed(list(enumerate(self.body))):
            x, y = self._cell_origin(cell)
            if index == 0:
                pygame.draw.rect(canvas, HEAD_COLOUR, (x, y, CELL_PIXELS, CELL_PIXELS), border_radius=3)
                self._draw_eyes(canvas, x, y)
            else:  # segments one pixel apart, so the body reads as a chain
                pygame.draw.rect(canvas, BODY_COLOUR, (x + 1, y + 1, CELL_PIXELS - 2, CELL_PIXELS - 2), border_radius=2)
                self._join(canvas, cell, self.body[index - 1])

    @staticmethod
    def _cell_origin(cell: tuple[int, int]) -> tuple[int, int]:
        return cell[0] * CELL_PIXELS, cell[1] * CELL_PIXELS

    def _join(self, canvas: pygame.Surface, cell: tuple[int, int], towards: tuple[int, int]) -> None:
        """Fills the gap between a segment and the one nearer the head."""
        x, y = self._cell_origin(cell)
        dx, dy = towards[0] - cell[0], towards[1] - cell[1]
        middle = CELL_PIXELS // 2
        if dx:
            canvas.fill(BODY_COLOUR, (x + (CELL_PIXELS - 2 if dx > 0 else 0), y + middle - 2, 2, 4))
        elif dy:
            canvas.fill(BODY_COLOUR, (x + middle - 2, y + (CELL_PIXELS - 2 if dy > 0 else 0), 4, 2))

    def _draw_eyes(self, canvas: pygame.Surface, x: int, y: int) -> None:
        """Two dark eyes toward the front of the head, off its centre (the agent's view of the
        head's middle stays the head's colour)."""
        dx, dy = self.direction
        front = CELL_PIXELS // 2 if (dx > 0 or dy > 0) else 2
        sides = (1, CELL_PIXELS - 3)
        for side in sides:
            column, row = (x + front, y + side) if dx else (x + side, y + front)
            canvas.fill(EYE_COLOUR, (column, row, 2, 2))

    @staticmethod
    def _draw_apple(canvas: pygame.Surface, x: int, y: int) -> None:
        centre = (x + CELL_PIXELS // 2, y + CELL_PIXELS // 2 + 1)
        pygame.draw.circle(canvas, APPLE_COLOUR, centre, CELL_PIXELS // 2 - 1)
        canvas.fill(APPLE_STEM_COLOUR, (centre[0], y, 1, 2))
        canvas.fill(APPLE_LEAF_COLOUR, (centre[0] + 1, y, 2, 1))

    def _draw_display(self, canvas: pygame.Surface, scale: int) -> None:
        """A smooth snake (one rounded band through its cells), a round head with eyes looking
        where it goes, and a red apple with a leaf."""
        cell = CELL_PIXELS * scale

        def centre(position: tuple[int, int]) -> tuple[float, float]:
            return (position[0] + 0.5) * cell, (position[1] + 0.5) * cell

        apple_x, apple_y = centre(self.food)
        pygame.draw.circle(canvas, (215, 40, 40), (apple_x, apple_y + 2), cell * 0.4)
        pygame.draw.circle(canvas, (255, 150, 150), (apple_x - cell * 0.13, apple_y - cell * 0.08), cell * 0.09)
        pygame.draw.line(
            canvas, (100, 60, 20), (apple_x, apple_y - cell * 0.3), (apple_x + 3, apple_y - cell * 0.48), 3
        )
        pygame.draw.ellipse(canvas, (70, 170, 60), (apple_x + 3, apple_y - cell * 0.5, cell * 0.3, cell * 0.15))

        points = [centre(position) for position in self.body]
        band = int(cell * 0.7)
        for start, end in itertools.pairwise(points):
            pygame.draw.line(canvas, BODY_COLOUR, start, end, band)
        for point in points[1:]:
            pygame.draw.circle(canvas, BODY_COLOUR, point, band / 2)
        pygame.draw.circle(canvas, (150, 200, 90), points[-1], band / 4)  # the tail's tip

        head_x, head_y = points[0]
        pygame.draw.circle(canvas, HEAD_COLOUR, (head_x, head_y), cell * 0.45)
        dx, dy = self.direction
        for side in (-1, 1):
            eye = (
                head_x + dx * cell * 0.15 - dy * side * cell * 0.2,
                head_y + dy * cell * 0.15 + dx * side * cell * 0.2,
            )
            pygame.draw.circle(canvas, (255, 255, 255), eye, cell * 0.12)
            pygame.draw.circle(canvas, EYE_COLOUR, (eye[0] + dx * 2, eye[1] + dy * 2), cell * 0.06)
