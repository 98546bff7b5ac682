"""Pong (PLE style): the agent's paddle on the right against a CPU paddle on the left.

Rewards: +1 when the agent scores, -1 when the CPU scores. The game ends when either side
reaches ``POINTS_TO_WIN``. The CPU paddle is slower than the ball, so it can be beaten.
Actions: up, down, do nothing.
"""

from __future__ import annotations

import functools

import pygame

from envs.games.base import PygameGame

PADDLE_WIDTH = 3
PADDLE_HEIGHT = 12
AGENT_PADDLE_SPEED = 2.5
CPU_PADDLE_SPEED = 1.2
BALL_SIZE = 3
BALL_SPEED = 2.0
POINTS_TO_WIN = 7


@functools.lru_cache(maxsize=1)
def score_font() -> pygame.font.Font:
    pygame.font.init()
    return pygame.font.Font(None, 28)


class PLEPong(PygameGame):
    width = 64
    height = 48
    action_names = ("UP", "DOWN", "NOOP")

    def _new_game(self) -> None:
        self.agent_y = self.cpu_y = (self.height - PADDLE_HEIGHT) / 2
        self.agent_points = self.cpu_points = 0
        self._serve(direction=1.0 if self.np_random.random() < 0.5 else -1.0)

    def _serve(self, direction: float) -> None:
        self.ball_x, self.ball_y = self.width / 2, self.height / 2
        self.ball_dx = BALL_SPEED * direction
        self.ball_dy = float(self.np_random.uniform(-1.2, 1.2))

    def _advance(self, action: int) -> tuple[float, bool]:
        if action == 0:
            self.agent_y -= AGENT_PADDLE_SPEED
        elif action == 1:
            self.agent_y += AGENT_PADDLE_SPEED
        self.agent_y = min(max(self.agent_y, 0.0), self.height - PADDLE_HEIGHT)
        cpu_target = self.ball_y - PADDLE_HEIGHT / 2
        self.cpu_y += max(-CPU_PADDLE_SPEED, min(CPU_PADDLE_SPEED, cpu_target - self.cpu_y))
        self.cpu_y = min(max(self.cpu_y, 0.0), self.height - PADDLE_HEIGHT)

        self.ball_x += self.ball_dx
        self.ball_y += self.ball_dy
        if self.ball_y < 0 or self.ball_y + BALL_SIZE > self.height:
            self.ball_dy = -self.ball_dy
            self.ball_y = min(max(self.ball_y, 0.0), self.height - BALL_SIZE)
        self._bounce_off(paddle_x=self.width - PADDLE_WIDTH - 2, paddle_y=self.agent_y, moving_right=True)
        self._bounce_off(paddle_x=2, paddle_y=self.cpu_y, moving_right=False)

        reward = 0.0
        if self.ball_x > self.width:
            self.cpu_points += 1
            reward = -1.0
            self._serve(direction=1.0)
        elif self.ball_x + BALL_SIZE < 0:
            self.agent_points += 1
            reward = 1.0
            self._serve(direction=-1.0)
        return reward, max(self.agent_points, self.cpu_points) >= POINTS_TO_WIN

    def _bounce_off(self, *, paddle_x: float, paddle_y: float, moving_right: bool) -> None:
        if (self.ball_dx > 0) != moving_right:
            return
        ball_front = self.ball_x + BALL_SIZE if moving_right else self.ball_x
        crossed = paddle_x <= ball_front <= paddle_x + PADDLE_WIDTH + BALL_SPEED
        if crossed and paddle_y - BALL_SIZE < self.ball_y < paddle_y + PADDLE_HEIGHT:
            self.ball_dx = -self.ball_dx
            offset = (self.ball_y + BALL_SIZE / 2 - (paddle_y + PADDLE_HEIGHT / 2)) / (PADDLE_HEIGHT / 2)
            self.ball_dy = 1.5 * offset

    def _draw(self, canvas: pygame.Surface) -> None:
        canvas.fill((90, 90, 110), (self.width // 2, 0, 1, self.height))
        canvas.fill((230, 90, 90), (2, int(self.cpu_y), PADDLE_WIDTH, PADDLE_HEIGHT))
        canvas.fill((90, 200, 230), (self.width - PADDLE_WIDTH - 2, int(self.agent_y), PADDLE_WIDTH, PADDLE_HEIGHT))
        canvas.fill((250, 250, 250), (int(self.ball_x), int(self.ball_y), BALL_SIZE, BALL_SIZE))

    def _draw_display(self, canvas: pygame.Surface, scale: int) -> None:
        """Rounded paddles, a round ball, a dashed net and both scores (the computer's on the left)."""
        width, height = self.width * scale, self.height * scale
        for y in range(0, height, 12):
            pygame.draw.rect(canvas, (90, 90, 110), (width // 2 - 1, y, 3, 6))
        paddle_width, paddle_height = PADDLE_WIDTH * scale, PADDLE_HEIGHT * scale
        pygame.draw.rect(
            canvas, (230, 90, 90), (2 * scale, self.cpu_y * scale, paddle_width, paddle_height), border_radius=4
        )
        agent_x = (self.width - PADDLE_WIDTH - 2) * scale
        pygame.draw.rect(
            canvas, (90, 200, 230), (agent_x, self.agent_y * scale, paddle_width, paddle_height), border_radius=4
        )
        radius = BALL_SIZE * scale / 2
        pygame.draw.circle(
            canvas, (250, 250, 250), ((self.ball_x * scale) + radius, (self.ball_y * scale) + radius), radius
        )
        font = score_font()
        for points, colour, x in (
            (self.cpu_points, (230, 90, 90), width // 4),
            (self.agent_points, (90, 200, 230), 3 * width // 4),
        ):
            text = font.render(str(points), True, colour)
            canvas.blit(text, (x - text.get_width() // 2, 6))
