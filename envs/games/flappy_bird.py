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
# the display drawing (what a person sees; the agent sees flat shapes)
SKY = (112, 197, 206)
PIPE_GREEN = (100, 190, 60)
PIPE_LIGHT = (160, 230, 110)
PIPE_DARK = (50, 110, 35)
CAP_HEIGHT = 12


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

    def _draw_display(self, canvas: pygame.Surface, scale: int) -> None:
        """A sky, green pipes with caps, and a yellow bird with an eye, a beak and a wing that
        beats up while the bird rises."""
        canvas.fill(SKY)
        width, height = PIPE_WIDTH * scale, self.height * scale
        for x, gap_top, _ in self.pipes:
            left = x * scale
            gap_start, gap_end = gap_top * scale, (gap_top + PIPE_GAP) * scale
            for start, end in ((0, gap_start), (gap_end, height)):
                pygame.draw.rect(canvas, PIPE_GREEN, (left, start, width, end - start))
                pygame.draw.rect(canvas, PIPE_LIGHT, (left + 4, start, 5, end - start))
                pygame.draw.rect(canvas, PIPE_DARK, (left + width - 7, start, 7, end - start))
            for cap_top in (gap_start - CAP_HEIGHT, gap_end):
                cap = pygame.Rect(left - 4, cap_top, width + 8, CAP_HEIGHT)
                pygame.draw.rect(canvas, PIPE_GREEN, cap)
                pygame.draw.rect(canvas, PIPE_LIGHT, (cap.left + 4, cap.top + 2, 6, CAP_HEIGHT - 4))
                pygame.draw.rect(canvas, PIPE_DARK, cap, 2)

        left, top, size = BIRD_X * scale, self.bird_y * scale, BIRD_SIZE * scale
        pygame.draw.ellipse(canvas, (250, 210, 60), (left, top + 2, size, size - 4))
        pygame.draw.ellipse(canvas, (150, 100, 20), (left, top + 2, size, size - 4), 2)
        pygame.draw.circle(canvas, (255, 255, 255), (left + size * 0.7, top + size * 0.33), 4)
        pygame.draw.circle(canvas, (20, 20, 20), (left + size * 0.75, top + size * 0.33), 2)
        beak_y = top + size * 0.55
        pygame.draw.polygon(
            canvas,
            (240, 110, 40),
            [(left + size - 3, beak_y - 3), (left + size + 5, beak_y), (left + size - 3, beak_y + 3)],
        )
        wing_top = top + (3 if self.bird_velocity < 0 else size * 0.45)
        pygame.draw.ellipse(canvas, (255, 245, 190), (left + 2, wing_top, size * 0.5, size * 0.35))
        pygame.draw.ellipse(canvas, (150, 100, 20), (left + 2, wing_top, size * 0.5, size * 0.35), 1)
