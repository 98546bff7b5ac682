"""Reference data that scores are read against, each kept as a CSV beside this module with
its source in the header:

- ``atari_reference_scores.csv``: random and human scores of the Atari-57 games, for
  human-normalized scores;
- ``our_games_reference_scores.csv``: random and reference (a competent player, or the game's
  maximum) scores of our own games, normalized the same way;
- ``published_scores.csv``: published DQN results (Nature DQN, CleanRL, RL Zoo).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
ATARI_REFERENCE_FILE = HERE / "atari_reference_scores.csv"
OUR_GAMES_REFERENCE_FILE = HERE / "our_games_reference_scores.csv"
PUBLISHED_FILE = HERE / "published_scores.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(line for line in file if not line.startswith("#")))


@lru_cache(maxsize=1)
def atari_reference_scores() -> dict[str, tuple[float, float]]:
    """Game -> (random score, human score) for the Atari-57 games."""
    return {row["game"]: (float(row["random"]), float(row["human"])) for row in _rows(ATARI_REFERENCE_FILE)}


@lru_cache(maxsize=1)
def our_games_reference_scores() -> dict[str, tuple[float, float]]:
    """Game -> (random score, reference score) for our pygame games and CartPole."""
    return {row["game"]: (float(row["random"]), float(row["reference"])) for row in _rows(OUR_GAMES_REFERENCE_FILE)}


def human_normalized(game: str, score: float) -> float | None:
    """``(score - random) / (human - random)``, or ``None`` for a game without reference scores."""
    return _normalized(atari_reference_scores().get(game), score)


def normalized_score(game: str, score: float) -> float | None:
    """Human-normalized for an Atari-57 game, reference-normalized for one of ours, ``None``
    for a game with neither."""
    reference = atari_reference_scores().get(game) or our_games_reference_scores().get(game)
    return _normalized(reference, score)


def is_atari_reference_game(game: str) -> bool:
    return game in atari_reference_scores()


def _normalized(reference: tuple[float, float] | None, score: float) -> float | None:
    if reference is None:
        return None
    random, best = reference
    return (score - random) / (best - random)


@dataclass(frozen=True)
class PublishedScore:
    game: str
    source: str
    frames: int
    score: float


@lru_cache(maxsize=1)
def published_scores() -> tuple[PublishedScore, ...]:
    return tuple(
        PublishedScore(row["game"], row["source"], int(row["frames"]), float(row["score"]))
        for row in _rows(PUBLISHED_FILE)
    )


def published_for(game: str) -> list[PublishedScore]:
    return [entry for entry in published_scores() if entry.game == game]
