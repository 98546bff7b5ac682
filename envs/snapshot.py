"""Save and restore the exact state of games in progress, for an exact resume of training.

``StatefulEnv`` tops the wrapper chain that ``make_game`` builds; ``get_state()`` collects
every layer's changing attributes (positions, scores, frame stacks, step counters, the RNG)
as tensors and plain values, which a ``weights_only`` checkpoint can hold, and for an Atari
game the emulator's own state (``ALEInterface.cloneState(include_rng=True)``, serialized to
bytes). That covers every game in a ``SyncVectorEnv`` (all 1-env runs). ale-py's native
vector env exposes no state, so multi-env Atari runs resume with fresh games
(``vector_env_state`` returns ``None`` there), and so do subprocess vector envs, whose
autoreset flag lives inside the worker processes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ale_py import ALEInterface, ALEState

_SKIPPED = {
    "env",
    "observation_space",
    "action_space",
    "spec",
    "metadata",
    "render_mode",
    "canvas",
    "_window",
    "_clock",
    "_action_space",
    "_observation_space",
    "_metadata",
    "_cached_spec",
    "screen",
    "clock",
}


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__array__": torch.from_numpy(value.copy())}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return {"__bigint__": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return value["__array__"].numpy().copy()
        if "__tuple__" in value:
            return tuple(_decode(item) for item in value["__tuple__"])
        if "__dict__" in value:
            return {_decode(k): _decode(v) for k, v in value["__dict__"]}
        if "__bigint__" in value:
            return int(value["__bigint__"])
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _is_plain(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str, type(None), np.ndarray, np.generic)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


def _layers(env: gym.Env) -> list[gym.Env]:
    layers = [env]
    while hasattr(layers[-1], "env"):
        layers.append(layers[-1].env)
    return layers


def _emulator(layer: gym.Env) -> ALEInterface | None:
    """The ``ALEInterface`` of an ale-py ``AtariEnv`` layer, else ``None``."""
    emulator = vars(layer).get("ale")
    return emulator if isinstance(emulator, ALEInterface) else None


class StatefulEnv(gym.Wrapper):
    """Adds ``get_state()`` / ``set_state()`` over the whole wrapper chain below it."""

    def get_state(self) -> list[dict[str, Any]]:
        states = []
        for layer in _layers(self.env):
            fields = {
                name: _encode(value) for name, value in vars(layer).items() if name not in _SKIPPED and _is_plain(value)
            }
            rng = getattr(layer, "_np_random", None)
            if rng is not None:
                fields["_np_random_state"] = _encode(rng.bit_generator.state)
            emulator = _emulator(layer)
            if emulator is not None:
                serialized = emulator.cloneState(include_rng=True).serialize()
                fields["_ale_state"] = torch.frombuffer(bytearray(serialized), dtype=torch.uint8)
            states.append(fields)
        return states

    def set_state(self, states: list[dict[str, Any]]) -> None:
        layers = _layers(self.env)
        if len(states) != len(layers):
            raise ValueError("saved game state does not match this game's wrappers")
        for layer, fields in zip(layers, states):
            for name, value in fields.items():
                if name == "_np_random_state":
                    layer._np_random = np.random.Generator(np.random.PCG64())
                    layer._np_random.bit_generator.state = _decode(value)
                elif name == "_ale_state":
                    _emulator(layer).restoreState(ALEState(value.numpy().tobytes()))
                else:
                    setattr(layer, name, _decode(value))


def _inner_vector_env(env: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
    while isinstance(env, gym.vector.VectorWrapper):
        env = env.env
    return env


def vector_env_state(env: gym.vector.VectorEnv) -> dict[str, Any] | None:
    """The state of every game in a vector env, or ``None`` where it cannot be captured."""
    inner = _inner_vector_env(env)
    if not isinstance(inner, gym.vector.SyncVectorEnv):
        return None
    games = [sub_env.get_state() for sub_env in inner.envs]
    wrappers = []
    layer = env
    while isinstance(layer, gym.vector.VectorWrapper):
        wrappers.append(
            {
                name: _encode(value)
                for name, value in vars(layer).items()
                if name.startswith("_") and isinstance(value, np.ndarray)
            }
        )
        layer = layer.env
    return {"games": games, "autoreset": torch.from_numpy(inner._autoreset_envs.copy()), "wrappers": wrappers}


def restore_vector_env_state(env: gym.vector.VectorEnv, state: dict[str, Any]) -> None:
    """Puts every game back where ``vector_env_state`` found it (after a ``reset()``)."""
    inner = _inner_vector_env(env)
    for sub_env, game in zip(inner.envs, state["games"]):
        sub_env.set_state(game)
    inner._autoreset_envs[:] = state["autoreset"].numpy()
    layer = env
    for fields in state["wrappers"]:
        for name, value in fields.items():
            setattr(layer, name, _decode(value))
        layer = layer.env
