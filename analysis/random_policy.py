"""The random-policy baseline of a results table, measured the way evaluations are: eval-mode
games with the run's evaluation settings, a uniformly random action every agent step. Kept in
``random_policy.json`` in the report's folder, so a report measures each game once."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from agent.config import DQNConfig
from analysis.results import RunRecord, read_run_config
from training.evaluation import PlaySettings, play_games

BASELINE_FILE = "random_policy.json"
BASELINE_SEED = 10_000
RANDOM_EPISODES = 20


def random_policy_scores(game: str, settings: PlaySettings, episodes: int, seed: int = BASELINE_SEED) -> list[float]:
    """Real scores of ``episodes`` games played uniformly at random."""
    games = play_games(game, None, settings, episodes=episodes, seed=seed, device=None)
    return [float(step.info["episode_score"]) for step in games if step.done]


def random_policy_means(games: dict[str, PlaySettings], episodes: int, folder: Path) -> dict[str, float]:
    """Game -> mean random score; measured games are read back from ``folder``'s cache when
    they were played with the same settings and number of games."""
    path = folder / BASELINE_FILE
    cache = json.loads(path.read_text()) if path.is_file() else {}
    for game, settings in games.items():
        wanted = {"settings": dataclasses.asdict(settings), "episodes": episodes}
        entry = cache.get(game, {})
        if {key: entry.get(key) for key in wanted} != wanted:
            cache[game] = {**wanted, "scores": random_policy_scores(game, settings, episodes)}
    folder.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(cache, indent=1))
    temporary.replace(path)
    return {game: float(np.mean(cache[game]["scores"])) for game in games}


def play_settings_of(run: RunRecord) -> PlaySettings:
    """The evaluation settings a run used (from its ``config.json``)."""
    values = read_run_config(run.run_dir)
    values.pop("game", None)
    return PlaySettings.from_config(DQNConfig.from_dict(values))


def random_policy_means_of_runs(
    runs: list[RunRecord], folder: Path, episodes: int = RANDOM_EPISODES
) -> dict[str, float]:
    """The random baseline of every game among ``runs`` that has started (played with the
    settings of the game's first run)."""
    settings: dict[str, PlaySettings] = {}
    for run in runs:
        if (run.run_dir / "config.json").is_file():
            settings.setdefault(run.game, play_settings_of(run))
    return random_policy_means(settings, episodes, folder)
