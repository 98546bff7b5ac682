"""The DeepMind pixel pipeline shared by every pixel game: grayscale, max-pool, 84x84 resize,
frame skip and a 4-frame stack.

The pipeline wraps an env whose observation is one raw screen, either grayscale ``(H, W)``
(ALE renders its own grayscale palette) or colour ``(H, W, 3)`` (our pygame games), and turns
it into ``(stack, 84, 84) uint8``. A new episode starts from a zero-padded stack, the same
convention as ale-py's native vector env, so single and vector envs give identical stacks.
"""

from __future__ import annotations

from typing import Any

import cv2
import gymnasium as gym
import numpy as np

FRAME_STACK = 4  # frames in one observation, as in the paper
SCREEN_SIZE = 84


def to_grayscale(screen: np.ndarray) -> np.ndarray:
    """Return a 2-D uint8 grayscale screen (a colour screen is converted, gray passes)."""
    if screen.ndim == 2:
        return screen
    return cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)


def resize_screen(screen: np.ndarray, size: int) -> np.ndarray:
    """Area-interpolated resize to ``size x size``, as in the Nature DQN preprocessing."""
    return cv2.resize(screen, (size, size), interpolation=cv2.INTER_AREA)


class PixelPipeline(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Frame skip with max over the last two frames, grayscale, resize and frame stack.

    Args:
        env: an env whose observation is one raw screen.
        frame_skip: how many frames each agent action is repeated for (rewards are summed).
        max_pool: take the pixel-wise max of the last two frames of a skip (removes Atari
            sprite flicker); our pygame games do not flicker and turn it off.
        screen_size: side of the square output frame.
        stack_size: how many of the latest frames one observation holds.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        frame_skip: int = 4,
        max_pool: bool = True,
        screen_size: int = SCREEN_SIZE,
        stack_size: int = FRAME_STACK,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, frame_skip=frame_skip, max_pool=max_pool, screen_size=screen_size, stack_size=stack_size
        )
        gym.Wrapper.__init__(self, env)
        if frame_skip < 1:
            raise ValueError(f"frame_skip must be at least 1, got {frame_skip}")
        self.frame_skip = frame_skip
        self.max_pool = max_pool and frame_skip > 1
        self.screen_size = screen_size
        self.stack_size = stack_size
        self._stack = np.zeros((stack_size, screen_size, screen_size), dtype=np.uint8)
        self.observation_space = gym.spaces.Box(0, 255, self._stack.shape, np.uint8)

    def _push(self, screen: np.ndarray) -> np.ndarray:
        self._stack[:-1] = self._stack[1:]
        self._stack[-1] = resize_screen(screen, self.screen_size)
        return self._stack.copy()

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        screen, info = self.env.reset(**kwargs)
        self._stack.fill(0)
        return self._push(to_grayscale(screen)), info

    def get_state(self) -> dict[str, Any]:
        return {"stack": self._stack.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        self._stack[...] = state["stack"]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        total_reward = 0.0
        previous = latest = None
        terminated = truncated = False
        info: dict[str, Any] = {}
        for _ in range(self.frame_skip):
            screen, reward, terminated, truncated, info = self.env.step(action)
            total_reward += float(reward)
            previous, latest = latest, screen
            if terminated or truncated:
                break
        frame = to_grayscale(latest)
        if self.max_pool and previous is not None:
            frame = np.maximum(frame, to_grayscale(previous))
        return self._push(frame), total_reward, terminated, truncated, info
