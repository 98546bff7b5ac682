"""Flappy Bird: flap through the gaps of pipes that scroll at constant speed.

Rewards: +1 per pipe passed, -1 on death (PLE uses -5; we keep it at -1 so an episode's
score reads as pipes passed minus one). The game ends on touching a pipe, the ground or the
ceiling. Actions: flap, do nothing.
"""

from __future__ import annotations

import pygame

from envs.games.base import PygameGame

GRAVITY = 0.35
FLAP_VELOCITY = -3.2
MAX_FALL_SPEED = 4.0
BIRD_X = 18
BIRD_SIZE = 6
PIPE_WIDTH = 12
PIPE_GAP = 34
PIPE_SPACING = 48
PIPE_SPEED_PIXELS = 1.5


class FlappyBird(PygameGame):
    width = 80
    height = 112
    action_names = ("FLAP", "NOOP")

    def _new_game(self) -> None:
        self.bird_y = self.height / 2
        self.bird_velocity = 0.0
        self.pipes: list[list[float]] = []  # [x, gap_top, passed]
        for index in range(3):
            self._add_pipe(self.width + index * (PIPE_SPACING + PIPE_WIDTH))

    def _add_pipe(self, x: float) -> None:
        gap_top = float(self.np_random.integers(12, self.height - PIPE_GAP - 12))
        self.pipes.append([x, gap_top, 0.0])

    def next_pipe(self) -> list[float]:
        """The first pipe whose right edge is still ahead of the bird (for scripted play)."""
        return next(pipe for pipe in self.pipes if pipe[0] + PIPE_WIDTH >= BIRD_X)

    def _advance(self, action: int) -> tuple[float, bool]:
        if action == 0:
            self.bird_velocity = FLAP_VELOCITY
        self.bird_velocity = min(self.bird_velocity + GRAVITY, MAX_FALL_SPEED)
        self.bird_y += self.bird_velocity
        reward = 0.0
        for pipe in self.pipes:
            pipe[0] -= PIPE_SPEED_PIXELS
            if not pipe[2] and pipe[0] + PIPE_WIDTH < BIRD_X:
                pipe[2] = 1.0
                reward += 1.0
        if self.pipes[0][0] + PIPE_WIDTH < 0:
            self.pipes.pop(0)
            self._add_pipe(self.pipes[-1][0] + PIPE_SPACING + PIPE_WIDTH)
        if self._crashed():
            return reward - 1.0, True
        return reward, False

    def _crashed(self) -> bool:
        if self.bird_y < 0 or self.bird_y + BIRD_SIZE > self.height:
            return True
        for x, gap_top, _ in self.pipes:
            overlaps_x = x < BIRD_X + BIRD_SIZE and BIRD_X < x + PIPE_WIDTH
            inside_gap = gap_top < self.bird_y and self.bird_y + BIRD_SIZE < gap_top + PIPE_GAP
            if overlaps_x and not inside_gap:
                return True
        return False

    def _draw(self, canvas: pygame.Surface) -> None:
        for x, gap_top, _ in self.pipes:
            canvas.fill((80, 190, 80), (int(x), 0, PIPE_WIDTH, int(gap_top)))
            canvas.fill((80, 190, 80), (int(x), int(gap_top + PIPE_GAP), PIPE_WIDTH, self.height))
        canvas.fill((250, 210, 60), (BIRD_X, int(self.bird_y), BIRD_SIZE, BIRD_SIZE))
