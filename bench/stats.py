"""Statistics of a metric's trial values: robust (median, IQR) with bootstrap confidence.

Benchmark timings are skewed and have outliers, so the centre is the median, its uncertainty a
percentile-bootstrap 95% CI, and a platform's ratio to native a bootstrap CI of the ratio of
the two medians (each sample resampled independently). The generator is seeded: the same
trials give the same summary.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def median(values: list[float]) -> float:
    return float(np.median(values))


def iqr(values: list[float]) -> tuple[float, float]:
    q1, q3 = np.percentile(values, [25, 75])
    return float(q1), float(q3)


def cv(values: list[float]) -> float:
    """Coefficient of variation (sample standard deviation / mean); NaN below 2 values."""
    if len(values) < 2:
        return math.nan
    mean = float(np.mean(values))
    return float(np.std(values, ddof=1) / mean) if mean else math.nan


def _bootstrap_medians(values: list[float], rng: np.random.Generator) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    picks = rng.integers(0, len(data), size=(RESAMPLES, len(data)))
    return np.median(data[picks], axis=1)


def _percentiles(draws: np.ndarray) -> Interval:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(float(low), float(high))


def median_ci_coverage_bound(n: int) -> float:
    """The most a percentile-bootstrap CI of a median of n values can cover: its resampled medians
    never leave [min, max], and all n values fall on one side of the true median with chance 2 / 2**n."""
    return 1 - 2.0 ** (1 - n)


def median_ci(values: list[float], seed: int = 0) -> Interval:
    return _percentiles(_bootstrap_medians(values, np.random.default_rng(seed)))


def ratio_ci(values: list[float], baseline: list[float], seed: int = 0) -> Interval:
    """CI of median(values) / median(baseline)."""
    rng = np.random.default_rng(seed)
    top, bottom = _bootstrap_medians(values, rng), _bootstrap_medians(baseline, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _percentiles(top / bottom)


EXACT_LIMIT = 50_000  # arrangements enumerated exactly; beyond, a seeded Monte Carlo estimate
PERMUTATIONS = 20_000


@dataclass(frozen=True)
class RankTest:
    p: float  # one-sided: the chance of a rank sum this extreme if both samples came from one population
    min_p: float  # the smallest p these sample sizes can give: above alpha, no verdict is possible


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def rank_test(baseline: list[float], current: list[float], alternative: str, seed: int = 0) -> RankTest:
    """One-sided Mann-Whitney U as a permutation test on the rank sum of `current`:
    `alternative` "greater" asks whether current tends to be larger than baseline, "less" smaller.
    Exact over every arrangement when there are few, otherwise a seeded Monte Carlo estimate."""
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less', not {alternative!r}")
    pooled = np.asarray(list(baseline) + list(current), dtype=float)
    ranks = _ranks(pooled)
    k, n = len(current), len(pooled)
    sign = 1.0 if alternative == "greater" else -1.0
    observed = sign * ranks[len(baseline):].sum()
    arrangements = math.comb(n, k)
    if arrangements <= EXACT_LIMIT:
        sums = np.array([ranks[list(pick)].sum() for pick in itertools.combinations(range(n), k)]) * sign
        p = float(np.mean(sums >= observed - 1e-9))
        return RankTest(p, 1 / arrangements)
    rng = np.random.default_rng(seed)
    sums = np.array([ranks[rng.permutation(n)[:k]].sum() for _ in range(PERMUTATIONS)]) * sign
    p = float((np.sum(sums >= observed - 1e-9) + 1) / (PERMUTATIONS + 1))
    return RankTest(p, 1 / (PERMUTATIONS + 1))
