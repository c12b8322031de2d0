"""Statistics of a metric's trial values: robust (median, IQR) with bootstrap confidence.

Benchmark timings are skewed and have outliers, so the centre is the median, its uncertainty a
percentile-bootstrap 95% CI, and a platform's ratio to native a bootstrap CI of the ratio of
the two medians (each sample resampled independently); a shift between two samples is judged by
a one-sided Mann-Whitney U test. All of it is scipy.stats; the generator is seeded, so the same
trials give the same summary.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.stats

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


def median_ci_coverage_bound(n: int) -> float:
    """The most a percentile-bootstrap CI of a median of n values can cover: its resampled medians
    never leave [min, max], and all n values fall on one side of the true median with chance 2 / 2**n."""
    return 1 - 2.0 ** (1 - n)


def _bootstrap(samples: tuple[list[float], ...], statistic: Callable[..., np.ndarray], seed: int) -> Interval:
    """Percentile-bootstrap CI of `statistic`; each sample is resampled on its own."""
    # scipy resamples two or more values; one value resamples to itself, as two copies of it do.
    samples = tuple(list(sample) * 2 if len(sample) == 1 else list(sample) for sample in samples)
    if all(len(set(sample)) == 1 for sample in samples):  # nothing varies: the interval is the point
        value = float(statistic(*(np.asarray(sample, dtype=float) for sample in samples), axis=-1))
        return Interval(value, value)
    # A resampled statistic that hardly varies is no problem for a percentile interval (it is
    # then the point), though scipy warns of it.
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
        result = scipy.stats.bootstrap(samples, statistic, n_resamples=RESAMPLES, vectorized=True, paired=False,
                                       confidence_level=CONFIDENCE, method="percentile",
                                       rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return Interval(float(interval.low), float(interval.high))


def median_ci(values: list[float], seed: int = 0) -> Interval:
    return _bootstrap((values,), np.median, seed)


def _ratio_of_medians(top: np.ndarray, bottom: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(top, axis=axis) / np.median(bottom, axis=axis)


def ratio_ci(values: list[float], baseline: list[float], seed: int = 0) -> Interval:
    """CI of median(values) / median(baseline)."""
    return _bootstrap((values, baseline), _ratio_of_medians, seed)


def paired_ratio_ci(values: list[float], baseline: list[float], seed: int = 0) -> Interval:
    """CI of the median of values[i] / baseline[i]: each pair was measured together, so resampling
    whole pairs lets what they shared (the host's state at that moment) cancel out."""
    return median_ci([v / b for v, b in zip(values, baseline, strict=True)], seed)


EXACT_LIMIT = 50_000  # arrangements enumerated exactly; beyond, the normal approximation


@dataclass(frozen=True)
class RankTest:
    p: float  # one-sided: the chance of a rank sum this extreme if both samples came from one population
    min_p: float  # the smallest p these sample sizes can give: above alpha, no verdict is possible


def rank_test(baseline: list[float], current: list[float], alternative: str, seed: int = 0) -> RankTest:
    """One-sided Mann-Whitney U: `alternative` "greater" asks whether current tends to be larger
    than baseline, "less" smaller. Exact over every arrangement of the pooled values (ties
    included) when there are at most EXACT_LIMIT of them; beyond, scipy's normal approximation
    with tie correction, which is then accurate."""
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less', not {alternative!r}")
    arrangements = math.comb(len(baseline) + len(current), len(current))
    if min(len(baseline), len(current)) == 1:
        return RankTest(_one_value_p(baseline, current, alternative), 1 / arrangements)
    if arrangements <= EXACT_LIMIT:
        method: object = scipy.stats.PermutationMethod(n_resamples=EXACT_LIMIT, rng=np.random.default_rng(seed))
    else:
        method = "asymptotic"
    result = scipy.stats.mannwhitneyu(current, baseline, alternative=alternative, method=method)
    return RankTest(float(result.pvalue), 1 / arrangements)


def _one_value_p(baseline: list[float], current: list[float], alternative: str) -> float:
    """The exact p when a sample holds one value (scipy takes two or more): under the null its
    place among the pooled values is uniform, so p is the share of places at least as extreme
    (ties counted as extreme)."""
    if len(current) == 1:  # "greater": as extreme as the value are the places of baseline values >= it
        value, others, above = current[0], baseline, alternative == "greater"
    else:  # current tending larger means the lone baseline value sits low
        value, others, above = baseline[0], current, alternative == "less"
    extreme = sum(other >= value for other in others) if above else sum(other <= value for other in others)
    return (extreme + 1) / (len(others) + 1)
