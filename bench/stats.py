"""Statistics of a metric's trial values: robust (median, IQR) with bootstrap confidence.

Benchmark timings are skewed and have outliers, so the centre is the median, its uncertainty a
percentile-bootstrap 95% CI, and a platform's ratio to native a bootstrap CI of the ratio of
the two medians (each sample resampled independently). The generator is seeded: the same
trials give the same summary.
"""

from __future__ import annotations

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


def median_ci(values: list[float], seed: int = 0) -> Interval:
    return _percentiles(_bootstrap_medians(values, np.random.default_rng(seed)))


def ratio_ci(values: list[float], baseline: list[float], seed: int = 0) -> Interval:
    """CI of median(values) / median(baseline)."""
    rng = np.random.default_rng(seed)
    top, bottom = _bootstrap_medians(values, rng), _bootstrap_medians(baseline, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _percentiles(top / bottom)
