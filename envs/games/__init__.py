"""Our PLE-style pygame games and CartPole from pixels (registered in ``envs/catalog.py``)."""

from envs.games.cartpole import CartPolePixels
from envs.games.catcher import Catcher
from envs.games.flappy_bird import FlappyBird
from envs.games.pixelcopter import Pixelcopter
from envs.games.pong import PLEPong
from envs.games.snake import Snake

PYGAME_GAMES = {cls.__name__: cls for cls in (Catcher, FlappyBird, Pixelcopter, PLEPong, Snake)}

__all__ = ["PYGAME_GAMES", "CartPolePixels", "Catcher", "FlappyBird", "PLEPong", "Pixelcopter", "Snake"]
