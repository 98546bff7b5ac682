"""One dataclass holds every hyperparameter; its defaults are the Nature DQN paper's
(Mnih et al., 2015). Named presets change a few fields, and ``preset_for_game`` picks one
from the game's family.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class DQNConfig:
    """Every setting of a DQN run. Steps are agent steps (one action of one env), summed over
    parallel envs; an Atari agent step is 4 emulator frames."""

    # -- the run --------------------------------------------------------------------
    total_steps: int = 12_500_000
    """Agent steps to train for (12.5M steps = 50M frames, the paper's budget)."""
    num_envs: int = 1
    """Parallel environments collecting experience."""
    seed: int = 0
    """Seeds the envs, the networks, exploration and replay sampling."""
    device: str = "auto"
    """``auto`` (CUDA, then Apple MPS, then CPU), ``cuda``, ``mps`` or ``cpu``."""
    sticky_actions: bool = False
    """Atari, training and evaluation: repeat the previous action with probability 0.25
    (Machado et al. 2018); off in the paper."""

    # -- network --------------------------------------------------------------------
    network: str = "nature_cnn"
    """``nature_cnn`` for pixels, ``mlp`` for vector states."""
    cnn_channels: tuple[int, int, int] = (32, 64, 64)
    """Filters of the three conv layers (8x8/4, 4x4/2, 3x3/1)."""
    hidden_size: int = 512
    """Width of the fully connected layer after the convs."""
    mlp_hidden_sizes: tuple[int, ...] = (128, 128)
    """Hidden layers of the MLP for vector states."""
    dueling: bool = False
    """Dueling head: separate state value and action advantages."""

    # -- replay memory --------------------------------------------------------------
    replay_capacity: int = 1_000_000
    """Transitions kept (split evenly across the envs' streams)."""
    batch_size: int = 32
    """Transitions per gradient update."""
    n_step: int = 1
    """Multi-step returns (1 = the paper's one-step Q-learning)."""
    prioritized_replay: bool = False
    """Prioritized replay (proportional, Schaul et al. 2016) instead of uniform sampling."""
    priority_alpha: float = 0.6
    """How strongly priorities shape sampling (0 = uniform)."""
    priority_beta: float = 0.4
    """Importance-sampling correction of prioritized batches (1 = full)."""
    replay_on_device: str = "auto"
    """Where the replay memory lives and is sampled. ``auto``: on the learner's GPU when it has
    room for the whole capacity, else in RAM; ``true``: on the learner's device, whatever it is
    (on the CPU that runs the device-side sampler there); ``false``: in RAM, sampled by the
    host. (``true``/``false`` may be given as booleans.)"""

    # -- learning -------------------------------------------------------------------
    discount: float = 0.99
    """Discount factor gamma."""
    learning_starts: int = 50_000
    """Agent steps of random play before the first update."""
    update_period_steps: int = 4
    """One gradient update per this many agent steps (the paper's replay ratio)."""
    overlap_collection: bool = True
    """Run the updates due while the envs step, where they step in the background (ale-py's
    vector env, subprocess envs): the updates then see the replay up to the previous vector
    step, and the next actions come from weights one vector step older. ``false``, and envs
    stepped in this process: step, then update."""
    target_update_period_steps: int = 10_000
    """Agent steps between hard copies of the online network into the target network."""
    target_update_tau: float = 1.0
    """1.0 = hard sync every period; below 1, a soft (Polyak) update after every gradient update."""
    double_dqn: bool = False
    """Double DQN: the online network picks the next action, the target network scores it."""
    optimizer: str = "rmsprop"
    """``rmsprop`` (the paper's) or ``adam``."""
    learning_rate: float = 2.5e-4
    """Step size (the paper's RMSprop: 2.5e-4; the Adam presets: 1e-4 for Atari, 5e-4 for our games)."""
    optimizer_eps: float = 0.01
    """Epsilon of the optimizer's denominator (RMSprop 0.01 as in the paper; Adam 1.5e-4)."""
    rmsprop_alpha: float = 0.95
    """RMSprop's squared-gradient decay (the paper's 0.95)."""
    max_grad_norm: float = 10.0
    """Gradient-norm clipping (0 turns it off)."""
    huber_delta: float = 1.0
    """Huber loss threshold (the paper's error clipping to [-1, 1])."""
    captured_update: bool = False
    """On CUDA, capture the whole gradient step once as a CUDA graph and replay it
    (``agent/captured_update.py``); the CPU and MPS always run it eagerly. Off by default
    until it has been measured on a GPU."""

    # -- exploration ----------------------------------------------------------------
    epsilon_start: float = 1.0
    epsilon_end: float = 0.1
    epsilon_decay_steps: int = 1_000_000
    """Agent steps over which epsilon falls linearly from start to end."""
    eval_epsilon: float = 0.05
    """Epsilon when evaluating and playing."""

    # -- evaluation, logging and checkpoints (used by train.py) ---------------------
    eval_every_steps: int = 250_000
    eval_episodes: int = 10
    evaluate_in_background: bool = True
    """Play evaluation games in a thread beside training, on a copy of the weights, so the
    learner never waits for them (``false``: training pauses while they play)."""
    eval_max_episode_steps: int = 27_000
    """Agent steps before an evaluation game is cut (27,000 = the literature's 108,000 frames)."""
    checkpoint_every_steps: int = 100_000
    keep_checkpoints: int = 3
    """Periodic checkpoints kept besides ``latest.pt`` and ``best.pt``."""
    log_every_steps: int = 1_000

    def __post_init__(self) -> None:
        if isinstance(self.replay_on_device, bool):  # configs written before "auto" existed
            self.replay_on_device = str(self.replay_on_device).lower()

    def validate(self, names: dict[str, str] | None = None) -> None:
        """Raises ``ValueError`` naming the first field whose value cannot work (``names``
        maps fields to the options a user typed, e.g. ``total_steps`` -> ``--steps``)."""
        names = names or {}
        at_least_one = (
            "total_steps", "num_envs", "hidden_size", "replay_capacity", "batch_size", "n_step",
            "update_period_steps", "target_update_period_steps", "epsilon_decay_steps", "eval_every_steps",
            "eval_episodes", "eval_max_episode_steps", "checkpoint_every_steps", "log_every_steps",
        )  # fmt: skip
        rules: list[tuple[str, bool, str]] = [(name, getattr(self, name) >= 1, "at least 1") for name in at_least_one]
        rules += [
            ("learning_starts", self.learning_starts >= 0, "0 or more"),
            ("keep_checkpoints", self.keep_checkpoints >= 0, "0 or more"),
            ("discount", 0.0 <= self.discount <= 1.0, "between 0 and 1"),
            ("target_update_tau", 0.0 < self.target_update_tau <= 1.0, "above 0 and at most 1"),
            ("learning_rate", self.learning_rate > 0, "positive"),
            ("optimizer_eps", self.optimizer_eps > 0, "positive"),
            ("huber_delta", self.huber_delta > 0, "positive"),
            ("max_grad_norm", self.max_grad_norm >= 0, "0 (off) or more"),
            ("priority_alpha", self.priority_alpha >= 0, "0 or more"),
            ("priority_beta", 0.0 <= self.priority_beta <= 1.0, "between 0 and 1"),
            ("rmsprop_alpha", 0.0 <= self.rmsprop_alpha < 1.0, "at least 0 and below 1"),
            ("optimizer", self.optimizer in ("rmsprop", "adam"), "rmsprop or adam"),
            ("network", self.network in ("nature_cnn", "mlp"), "nature_cnn or mlp"),
            ("replay_on_device", self.replay_on_device in ("auto", "true", "false"), "auto, true or false"),
            ("cnn_channels", len(self.cnn_channels) == 3 and min(self.cnn_channels) >= 1, "three positive numbers"),
            ("mlp_hidden_sizes", all(size >= 1 for size in self.mlp_hidden_sizes), "positive numbers"),
        ]
        rules += [
            (name, 0.0 <= getattr(self, name) <= 1.0, "between 0 and 1")
            for name in ("epsilon_start", "epsilon_end", "eval_epsilon")
        ]
        for name, holds, wanted in rules:
            if not holds:
                raise ValueError(f"{names.get(name, name)} must be {wanted}, got {getattr(self, name)!r}")

    def replace(self, **changes: Any) -> DQNConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            name: (list(value) if isinstance(value, tuple) else value)
            for name, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DQNConfig:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**{name: tuple(value) if isinstance(value, list) else value for name, value in values.items()})


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(DQNConfig)]


def parse_override(text: str, base: DQNConfig) -> tuple[str, Any]:
    """``"learning_rate=1e-4"`` -> ``("learning_rate", 1e-4)``, typed like the field's default."""
    name, separator, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    if not separator:
        raise ValueError(f"override {text!r} must look like FIELD=VALUE")
    if name not in field_names():
        import difflib

        close = difflib.get_close_matches(name, field_names(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown config field {name!r}.{hint}")
    current = getattr(base, name)
    raw = raw.strip()
    if isinstance(current, bool):
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name} takes true or false, got {raw!r}")
        return name, raw.lower() in ("true", "1", "yes")
    if isinstance(current, tuple):
        return name, tuple(int(part) for part in raw.strip("()[]").split(",") if part.strip())
    try:
        if isinstance(current, int):
            number = float(raw)
            if not number.is_integer():
                raise ValueError
            return name, int(number)
        return name, type(current)(raw)
    except ValueError:
        kind = {int: "a whole number", float: "a number"}.get(type(current), "text")
        raise ValueError(f"{name} takes {kind}, got {raw!r}") from None


PRESETS: dict[str, dict[str, Any]] = {
    # The paper, field for field (the dataclass defaults).
    "nature": {},
    # CleanRL's dqn_atari recipe: Adam 1e-4 with PyTorch's own epsilon, a target copy every
    # 1,000 agent steps, epsilon down to 0.01 over 100k steps after 80k of random play, the
    # squared TD error (a Huber threshold of 100: rewards clipped to 1 keep errors below it),
    # no gradient clipping, no Double DQN. On Breakout it scored 13.8 at 200k agent steps where
    # the earlier Rainbow-style preset (Double DQN, Adam 6.25e-5 with epsilon 1.5e-4, a target
    # copy every 8,000 steps) had 0.2, and had not passed 2.8 by 650k: epsilon 1.5e-4 dwarfed
    # the gradient scale of most of the network (README, "Breakout on this CPU").
    "atari": {
        "optimizer": "adam",
        "learning_rate": 1e-4,
        "optimizer_eps": 1e-8,
        "huber_delta": 100.0,
        "max_grad_norm": 0.0,
        "epsilon_end": 0.01,
        "epsilon_decay_steps": 100_000,
        "learning_starts": 80_000,
        "target_update_period_steps": 1_000,
        "num_envs": 4,
    },
    # Our pygame games: small screens, short games; a narrower CNN learns them in minutes.
    "pygame": {
        "total_steps": 500_000,
        "double_dqn": True,
        "optimizer": "adam",
        "learning_rate": 5e-4,
        "optimizer_eps": 1.5e-4,
        "cnn_channels": (16, 32, 32),
        "hidden_size": 256,
        "n_step": 3,
        "replay_capacity": 100_000,
        "learning_starts": 2_000,
        "epsilon_end": 0.05,
        "epsilon_decay_steps": 15_000,
        "target_update_period_steps": 1_000,
        "eval_every_steps": 25_000,
        "eval_episodes": 5,
        "eval_max_episode_steps": 2_000,
        "checkpoint_every_steps": 25_000,
    },
    # Snake: the pygame preset with a shorter horizon. At discount 0.99 an apple 5 moves away is
    # worth 0.95 and one 7 moves away 0.93, too close to tell apart in noisy Q-values: the agent
    # learned to survive but wandered (1.8 apples a game after 100k steps). At 0.9 they are
    # 0.59 and 0.48, and heading for the apple is learned.
    "snake": {"discount": 0.9},
    # CartPole's 4-number state with an MLP.
    "cartpole": {
        "total_steps": 50_000,
        "network": "mlp",
        "double_dqn": True,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "optimizer_eps": 1e-8,
        "replay_capacity": 50_000,
        "batch_size": 64,
        "learning_starts": 1_000,
        "update_period_steps": 1,
        "target_update_period_steps": 500,
        "epsilon_end": 0.02,
        "epsilon_decay_steps": 10_000,
        "eval_every_steps": 5_000,
        "eval_episodes": 5,
        "eval_max_episode_steps": 500,
        "checkpoint_every_steps": 10_000,
        "log_every_steps": 500,
    },
}


PRESET_BASES: dict[str, str] = {"snake": "pygame"}
"""Presets that change a few fields of another preset."""
GAME_PRESETS: dict[str, str] = {"Snake": "snake"}
"""Games with a preset of their own (by canonical game name)."""


def preset_fields(preset: str) -> dict[str, Any]:
    """The fields a preset sets, its base preset's included."""
    base = PRESET_BASES.get(preset)
    return {**(preset_fields(base) if base else {}), **PRESETS[preset]}


def make_config(preset: str, **overrides: Any) -> DQNConfig:
    """The named preset with ``overrides`` applied."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return DQNConfig(**{**preset_fields(preset), **overrides})


def preset_for_game(family: str, game: str | None = None) -> str:
    """The preset a game gets when none is asked for: its own, else its family's."""
    if game in GAME_PRESETS:
        return GAME_PRESETS[game]
    if family == "state":
        return "cartpole"
    if family == "pygame":
        return "pygame"
    return "atari"
