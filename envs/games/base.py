"""What every pygame game shares: a small off-screen canvas, seeded randomness, true-colour
frames as observations, and an optional window.

A game subclass implements ``_new_game()``, ``_advance(action) -> (reward, game_over)`` and
``_draw(canvas)``; this base turns that into a ``gymnasium.Env`` whose observation is the
colour frame ``(height, width, 3) uint8``. Nothing opens a display unless
``render_mode="human"`` asks for one, so the games run headless on servers.

Two drawings of one state: the observation is the game's own small canvas in flat shapes
(what the agent learns from: each object one colour, far apart in grayscale), and what a person
sees (``render()``, the window, recordings) is drawn ``DISPLAY_SCALE`` times bigger by
``_draw_display`` with recognisable sprites (a bird with a wing, a helicopter, a basket). A game
without its own display drawing shows its observation enlarged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from envs.headless import prefer_headless_video

prefer_headless_video()  # SDL's variables must be set before pygame is imported
import pygame

from envs.snapshot import plain_fields, rng_from_state, rng_state

BACKGROUND = (20, 20, 30)
DISPLAY_SCALE = 4
"""Display pixels per game pixel in ``render()``, the window and recordings."""


class PygameGame(gym.Env):
    """Base class of our PLE-style games (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 30}
    width: ClassVar[int] = 64
    height: ClassVar[int] = 64
    action_names: ClassVar[tuple[str, ...]] = ()

    # what the base class holds besides the game itself (screens, spaces, the RNG saved apart)
    _NOT_GAME_STATE: ClassVar[frozenset[str]] = frozenset(
        {
            "render_mode",
            "action_space",
            "observation_space",
            "spec",
            "canvas",
            "display_canvas",
            "_window",
            "_clock",
            "_np_random",
            "_np_random_seed",
        }
    )

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.action_space = gym.spaces.Discrete(len(self.action_names))
        self.observation_space = gym.spaces.Box(0, 255, (self.height, self.width, 3), np.uint8)
        self.canvas = pygame.Surface((self.width, self.height))
        self.display_canvas = pygame.Surface((self.width * DISPLAY_SCALE, self.height * DISPLAY_SCALE))
        self._window: pygame.Surface | None = None
        self._clock: pygame.time.Clock | None = None
        self._started = False

    # -- what a game implements -------------------------------------------------------
    def _new_game(self) -> None:
        raise NotImplementedError

    def _advance(self, action: int) -> tuple[float, bool]:
        raise NotImplementedError

    def _draw(self, canvas: pygame.Surface) -> None:
        raise NotImplementedError

    def _draw_display(self, canvas: pygame.Surface, scale: int) -> None:
        """What a person sees, on a canvas ``scale`` times the game's size; by default the
        observation, enlarged."""
        pygame.transform.scale(self.canvas, canvas.get_size(), canvas)

    # -- gymnasium API ----------------------------------------------------------------
    def get_action_meanings(self) -> list[str]:
        return list(self.action_names)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._new_game()
        self._started = True
        return self._frame(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        reward, game_over = self._advance(int(action))
        return self._frame(), float(reward), bool(game_over), False, {}

    def get_state(self) -> dict[str, Any]:
        """Everything the game in progress is made of, for an exact resume: the game's own
        fields (plain values; ``GameStateError`` names a field that is not) and its RNG."""
        return {"fields": plain_fields(self, self._NOT_GAME_STATE), "np_random": rng_state(self.np_random)}

    def set_state(self, state: dict[str, Any]) -> None:
        for name, value in state["fields"].items():
            setattr(self, name, value)
        self.np_random = rng_from_state(state["np_random"])

    def _frame(self) -> np.ndarray:
        self.canvas.fill(BACKGROUND)
        self._draw(self.canvas)
        if self.render_mode == "human":
            self._show()
        return self._canvas_pixels()

    def _canvas_pixels(self, canvas: pygame.Surface | None = None) -> np.ndarray:
        canvas = canvas or self.canvas
        width, height = canvas.get_size()
        return np.frombuffer(pygame.image.tobytes(canvas, "RGB"), dtype=np.uint8).reshape(height, width, 3).copy()

    def _draw_display_canvas(self) -> pygame.Surface:
        self.display_canvas.fill(BACKGROUND)
        self._draw_display(self.display_canvas, DISPLAY_SCALE)
        return self.display_canvas

    def render(self) -> np.ndarray | None:
        """``rgb_array``: the display frame of the current state, ``DISPLAY_SCALE`` times the
        observation's size, drawn for people; ``human`` draws the window on each step."""
        if self.render_mode == "rgb_array":
            return self._canvas_pixels(self._draw_display_canvas())
        return None

    def _show(self) -> None:
        if self._window is None:
            pygame.display.init()
            self._window = pygame.display.set_mode(self.display_canvas.get_size())
            pygame.display.set_caption(type(self).__name__)
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        self._window.blit(self._draw_display_canvas(), (0, 0))
        pygame.display.flip()
        self._clock.tick(self.metadata["render_fps"])

    def close(self) -> None:
        if self._window is not None:
            pygame.display.quit()
            self._window = None
