"""The statistics deep-RL results are reported with (Agarwal et al., NeurIPS 2021, "Deep RL
at the edge of the statistical precipice"): the interquartile mean
(IQM) across runs, and percentile bootstrap confidence intervals, stratified by game so each
resample keeps every game's number of runs.

Written here rather than taken from ``rliable``: it would bring arch, pandas, seaborn and absl
for the few functions below, which the tests check against direct computations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2_000


def interquartile_mean(values: Sequence[float] | np.ndarray) -> float:
    """The mean of the middle 50% of ``values`` (25% trimmed from each end, fractional
    weights at the cut points, as ``scipy.stats.trim_mean`` would not do)."""
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    count = len(values)
    if count == 0:
        raise ValueError("the interquartile mean of no values is undefined")
    # each value covers [i, i+1) of [0, count); keep what lies in [count/4, 3*count/4)
    low, high = count / 4, 3 * count / 4
    positions = np.arange(count)
    weights = np.clip(np.minimum(positions + 1, high) - np.maximum(positions, low), 0.0, 1.0)
    return float((values * weights).sum() / weights.sum())


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point estimate, low, high): the statistic and its percentile bootstrap interval."""
    return stratified_bootstrap_interval([values], statistic, resamples=resamples, confidence=confidence, seed=seed)


def stratified_bootstrap_interval(
    groups: Sequence[Sequence[float] | np.ndarray],
    statistic: Callable[[np.ndarray], float] = interquartile_mean,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point estimate, low, high) of ``statistic`` over all values of all ``groups`` (one group
    per game, one value per run); each resample draws runs with replacement within each game."""
    arrays = [np.asarray(group, dtype=np.float64).ravel() for group in groups]
    if not arrays or any(len(array) == 0 for array in arrays):
        raise ValueError("every group needs at least one value")
    point = float(statistic(np.concatenate(arrays)))
    rng = np.random.default_rng(seed)
    estimates = np.empty(resamples)
    for index in range(resamples):
        drawn = [array[rng.integers(0, len(array), size=len(array))] for array in arrays]
        estimates[index] = statistic(np.concatenate(drawn))
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return point, float(low), float(high)
