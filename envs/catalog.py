"""Every playable game and the one name resolver.

A ``GameSpec`` says how a game is built: which family it belongs to, its frame skip and
max-pooling, and its time limit. ``resolve_game`` turns what a user typed (``pong``,
``ALE/Pong-v5``, ``space_invaders``, ``flappybird``) into a spec, or raises
``UnknownGameError`` naming the closest valid games.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import gymnasium as gym

from envs.atari import ATARI_FRAME_SKIP, MAX_EPISODE_FRAMES, atari_games, strip_atari_id
from envs.games import PYGAME_GAMES, CartPolePixels
from envs.pixels import FRAME_STACK

GameFamily = Literal["atari", "pygame", "state"]


class UnknownGameError(ValueError):
    """The game id matches no playable game; the message lists the closest names."""


@dataclass(frozen=True)
class GameSpec:
    """How one game is built.

    Attributes:
        name: canonical name (``Pong``, ``FlappyBird``, ``CartPole``).
        family: ``atari`` (ale-py), ``pygame`` (our games and CartPole from pixels) or
            ``state`` (a vector observation, for the MLP agent).
        frame_skip: agent actions are repeated for this many frames.
        max_pool: max over the last two frames of a skip (Atari flicker; off for our games).
        max_episode_steps: agent steps before a game is truncated.
        frames_per_second: the game's own speed (Atari 60 Hz; CartPole's 0.02 s time step).
    """

    name: str
    family: GameFamily
    frame_skip: int = 1
    max_pool: bool = False
    max_episode_steps: int = 27_000
    frames_per_second: int = 30

    @property
    def agent_steps_per_second(self) -> float:
        """The natural speed to watch the agent at: one shown frame per agent step."""
        return self.frames_per_second / self.frame_skip

    @property
    def gym_id(self) -> str:
        if self.family == "atari":
            return f"ALE/{self.name}-v5"
        if self.family == "state":
            return f"{self.name}-v1"
        return f"arcade_dqn/{self.name}-v0"

    @property
    def pixels(self) -> bool:
        return self.family != "state"

    @property
    def frames_per_observation(self) -> int:
        """Frames stacked in one observation (a vector state is one)."""
        return FRAME_STACK if self.pixels else 1


# Our games move a few pixels per frame; a skip of 2 keeps control fine-grained while halving
# the decisions per second. Snake moves one cell per frame, so it needs no skip. CartPole
# needs every frame to stay balanced.
OWN_GAME_SPECS = {
    "Catcher": GameSpec("Catcher", "pygame", frame_skip=2, max_episode_steps=1_000),
    "FlappyBird": GameSpec("FlappyBird", "pygame", frame_skip=2, max_episode_steps=5_000),
    "Pixelcopter": GameSpec("Pixelcopter", "pygame", frame_skip=2, max_episode_steps=5_000),
    "PLEPong": GameSpec("PLEPong", "pygame", frame_skip=2, max_episode_steps=5_000),
    "Snake": GameSpec("Snake", "pygame", frame_skip=1, max_episode_steps=2_000),
    "CartPolePixels": GameSpec("CartPolePixels", "pygame", frame_skip=1, max_episode_steps=500, frames_per_second=50),
    "CartPole": GameSpec("CartPole", "state", frame_skip=1, max_episode_steps=500, frames_per_second=50),
}
ALIASES = {"pongple": "PLEPong", "flappy": "FlappyBird", "copter": "Pixelcopter"}

PIXEL_GAME_CLASSES: dict[str, type[gym.Env]] = {**PYGAME_GAMES, "CartPolePixels": CartPolePixels}
for _name, _cls in PIXEL_GAME_CLASSES.items():
    _spec = OWN_GAME_SPECS[_name]
    gym.register(id=_spec.gym_id, entry_point=_cls, max_episode_steps=_spec.max_episode_steps * _spec.frame_skip)


@lru_cache(maxsize=1)
def all_games() -> dict[str, GameSpec]:
    """Every playable game: canonical name -> spec (Atari first, then ours)."""
    atari = {
        name: GameSpec(
            name,
            "atari",
            frame_skip=ATARI_FRAME_SKIP,
            max_pool=True,
            max_episode_steps=MAX_EPISODE_FRAMES // ATARI_FRAME_SKIP,
            frames_per_second=60,
        )
        for name in atari_games()
    }
    return {**atari, **OWN_GAME_SPECS}


def _normalise(game_id: str) -> str:
    return re.sub(r"[^a-z0-9]", "", strip_atari_id(game_id).lower())


def resolve_game(game_id: str) -> GameSpec:
    """The spec of a game given by short name, ROM id or full id; case and ``_``/``-`` ignored."""
    games = all_games()
    by_key = {_normalise(name): spec for name, spec in games.items()}
    by_key.update({alias: games[name] for alias, name in ALIASES.items()})
    key = _normalise(game_id)
    if key in by_key:
        return by_key[key]
    close_keys = difflib.get_close_matches(key, by_key, n=3, cutoff=0.6)
    close = [by_key[k].name for k in close_keys]
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnknownGameError(f"unknown game {game_id!r}.{hint} Run `python -m envs --list` to see every game.")
