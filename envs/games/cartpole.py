"""CartPole from pixels: gymnasium's CartPole rendered to colour frames, so it goes through
the same pixel pipeline as every other game (velocities are read from the frame stack)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from envs.games import base  # noqa: F401  (sets the headless SDL driver before CartPole renders)
from envs.snapshot import layer_state, set_layer_state


class CartPolePixels(gym.Env):
    """CartPole whose observation is its ``rgb_array`` frame ``(400, 600, 3)``.

    Only ``rgb_array`` rendering: ``play.py`` shows these frames in its own window.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError("CartPolePixels renders rgb_array frames only; play.py shows them in a window")
        self.render_mode = render_mode
        self.cartpole = gym.make("CartPole-v1", render_mode="rgb_array").unwrapped
        self.action_space = self.cartpole.action_space
        self.observation_space = gym.spaces.Box(0, 255, (400, 600, 3), np.uint8)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        _, info = self.cartpole.reset(seed=seed, options=options)
        return self.cartpole.render(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        _, reward, terminated, truncated, info = self.cartpole.step(action)
        return self.cartpole.render(), float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        return self.cartpole.render() if self.render_mode == "rgb_array" else None

    def get_state(self) -> dict[str, Any]:
        return layer_state(self.cartpole)

    def set_state(self, state: dict[str, Any]) -> None:
        set_layer_state(self.cartpole, state)

    def get_action_meanings(self) -> list[str]:
        return ["LEFT", "RIGHT"]

    def close(self) -> None:
        self.cartpole.close()
