"""CartPole from pixels: gymnasium's CartPole rendered to colour frames, so it goes through
the same pixel pipeline as every other game (velocities are read from the frame stack)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.games import base  # noqa: F401  (sets the headless SDL driver before CartPole renders)


class CartPolePixels(gym.ObservationWrapper):
    """The observation is CartPole's ``rgb_array`` frame ``(400, 600, 3)`` instead of its state.

    Only ``rgb_array`` rendering: ``play.py`` shows these frames in its own window.
    """

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError("CartPolePixels renders rgb_array frames only; play.py shows them in a window")
        super().__init__(gym.make("CartPole-v1", render_mode="rgb_array").unwrapped)
        self.observation_space = gym.spaces.Box(0, 255, (400, 600, 3), np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        return self.env.render()

    def get_action_meanings(self) -> list[str]:
        return ["LEFT", "RIGHT"]
