"""Saving and restoring games in progress, for an exact resume of training.

Every layer of a game says what its state is: our wrappers and games have ``get_state()`` /
``set_state()`` (``PygameGame`` provides them for games whose fields are plain values), and
the two foreign envs we build on, ale-py's ``AtariEnv`` (the emulator's own state with its
RNG, ``cloneState(include_rng=True)``) and gymnasium's ``CartPoleEnv``, have adapters here. A
layer that cannot say raises ``GameStateError`` instead of losing its state silently.

States are plain values and NumPy arrays; ``to_checkpoint`` turns them into what a
``weights_only`` checkpoint can hold (tensors, lists, strings) and ``from_checkpoint`` back.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import torch


class GameStateError(RuntimeError):
    """A game, or a layer of it, cannot save its state; the message names it."""


PLAIN_TYPES = (bool, int, float, str, type(None), np.ndarray, np.generic)


def is_plain(value: Any) -> bool:
    """Whether ``value`` is made of plain values and arrays only (what a saved state may hold)."""
    if isinstance(value, PLAIN_TYPES):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(is_plain(key) and is_plain(item) for key, item in value.items())
    return False


def plain_fields(owner: object, skipped: frozenset[str]) -> dict[str, Any]:
    """A copy of ``owner``'s attributes except ``skipped``, all of which must be plain."""
    fields = {}
    for name, value in vars(owner).items():
        if name in skipped:
            continue
        if not is_plain(value):
            kind = type(owner).__name__
            raise GameStateError(
                f"{kind}.{name} holds a {type(value).__name__}, which cannot be saved for an exact resume: "
                f"keep plain values there, or give {kind} its own get_state() and set_state()"
            )
        fields[name] = copy.deepcopy(value)
    return fields


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return copy.deepcopy(rng.bit_generator.state)


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
    rng.bit_generator.state = copy.deepcopy(state)
    return rng


# -- the foreign envs we build on -----------------------------------------------------------
def _atari_state(env: gym.Env) -> dict[str, Any]:
    serialized = env.ale.cloneState(include_rng=True).serialize()
    return {"emulator": np.frombuffer(bytes(serialized), dtype=np.uint8).copy(), "np_random": rng_state(env.np_random)}


def _set_atari_state(env: gym.Env, state: dict[str, Any]) -> None:
    from ale_py import ALEState

    env.ale.restoreState(ALEState(np.asarray(state["emulator"], dtype=np.uint8).tobytes()))
    env.np_random = rng_from_state(state["np_random"])


def _cartpole_state(env: gym.Env) -> dict[str, Any]:
    physics = None if env.state is None else np.array(env.state, dtype=np.float64)
    return {
        "physics": physics,
        "steps_beyond_terminated": env.steps_beyond_terminated,
        "np_random": rng_state(env.np_random),
    }


def _set_cartpole_state(env: gym.Env, state: dict[str, Any]) -> None:
    env.state = None if state["physics"] is None else np.array(state["physics"], dtype=np.float64)
    env.steps_beyond_terminated = state["steps_beyond_terminated"]
    env.np_random = rng_from_state(state["np_random"])


def _foreign_adapters() -> dict[type, tuple[Any, Any]]:
    from ale_py.env import AtariEnv
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    return {AtariEnv: (_atari_state, _set_atari_state), CartPoleEnv: (_cartpole_state, _set_cartpole_state)}


def layer_state(layer: gym.Env) -> dict[str, Any]:
    """The state of one layer of a game (a wrapper, or the game itself)."""
    if hasattr(layer, "get_state"):
        return layer.get_state()
    adapter = _foreign_adapters().get(type(layer))
    if adapter is None:
        raise GameStateError(
            f"{type(layer).__name__} cannot save its state (it has no get_state()/set_state()); "
            "exact resume needs every layer of a game to say what its state is"
        )
    return adapter[0](layer)


def set_layer_state(layer: gym.Env, state: dict[str, Any]) -> None:
    if hasattr(layer, "set_state"):
        layer.set_state(state)
    else:
        _foreign_adapters()[type(layer)][1](layer, state)


def _layers(env: gym.Env) -> list[gym.Env]:
    layers = [env]
    while isinstance(layers[-1], gym.Wrapper):
        layers.append(layers[-1].env)
    return layers


def game_state(env: gym.Env) -> list[dict[str, Any]]:
    """The state of every layer of a game, top wrapper first."""
    return [layer_state(layer) for layer in _layers(env)]


def set_game_state(env: gym.Env, states: list[dict[str, Any]]) -> None:
    """Puts a game (reset once, so every layer exists) back where ``game_state`` found it."""
    layers = _layers(env)
    if len(states) != len(layers):
        raise GameStateError("the saved game state does not match this game's layers")
    for layer, state in zip(layers, states):
        set_layer_state(layer, state)


# -- to and from a weights_only checkpoint ----------------------------------------------------
def to_checkpoint(value: Any) -> Any:
    """Plain values and arrays as a ``weights_only`` checkpoint can hold them."""
    if isinstance(value, np.ndarray):
        return {"__array__": torch.from_numpy(value.copy())}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [to_checkpoint(item) for item in value]}
    if isinstance(value, list):
        return [to_checkpoint(item) for item in value]
    if isinstance(value, dict):
        return {"__dict__": [[to_checkpoint(key), to_checkpoint(item)] for key, item in value.items()]}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return {"__bigint__": str(value)}  # PCG64's 128-bit state
    return value


def from_checkpoint(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return value["__array__"].numpy().copy()
        if "__tuple__" in value:
            return tuple(from_checkpoint(item) for item in value["__tuple__"])
        if "__dict__" in value:
            return {from_checkpoint(key): from_checkpoint(item) for key, item in value["__dict__"]}
        if "__bigint__" in value:
            return int(value["__bigint__"])
    if isinstance(value, list):
        return [from_checkpoint(item) for item in value]
    return value
