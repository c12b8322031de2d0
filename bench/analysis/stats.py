"""Statistics of a metric's trial values: robust (median, IQR) with honest 95% intervals.

Benchmark timings are skewed and have outliers, so the centre is the median. Its interval
(`median_ci`) is the hull of two: the distribution-free order-statistic interval, exact for any
continuous distribution once there are 6 values (below that none reaches 95%: 5 values cover
the median 93.75% of the time at most), and a Student-t interval on the logarithms at 97.5%,
which carries the few-values case for the near-lognormal data benchmarks give. The margin of
the t part pays for the precision rule (bench/run/precision.py), which stops a cell once its
interval is narrow and so favours intervals that are narrow by chance:
tests/unit/test_precision.py simulates the rule and states the coverage it keeps.
A ratio of two medians gets the two intervals combined on the log scale (`ratio_ci`). The
percentile bootstrap remains for what is resampled as pairs or judged beside a neighbour
(`paired_ratio_ci`, `bootstrap_ratio_ci`), and a shift between two samples is judged by a
one-sided Mann-Whitney U test. The generators are seeded, so the same trials give the same
summary.
"""

from __future__ import annotations

import functools
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


DISTRIBUTION_FREE_N = 6  # the fewest values whose order statistics give a 95% interval of the median
T_CONFIDENCE = 0.975  # the t part's level: the margin the precision rule's stopping needs


@functools.cache
def _order_rank(n: int) -> int:
    """The largest k whose [x_(k), x_(n+1-k)] holds the median with CONFIDENCE; 0 if none does."""
    ranks = [k for k in range(1, n // 2 + 1) if 1 - 2 * scipy.stats.binom.cdf(k - 1, n, 0.5) >= CONFIDENCE]
    return max(ranks, default=0)


def distribution_free_coverage(n: int) -> float:
    """How often the order-statistic part alone holds the median, for any continuous distribution."""
    k = max(_order_rank(n), 1)
    return float(1 - 2 * scipy.stats.binom.cdf(k - 1, n, 0.5))


@functools.cache
def _t_quantile(n: int) -> float:
    return float(scipy.stats.t.ppf(1 - (1 - T_CONFIDENCE) / 2, n - 1))


def median_ci(values: list[float]) -> Interval:
    """95% interval of the median (the module's docstring says why this one). One value is its
    own interval: nothing says how far it may be off."""
    ordered = np.sort(np.asarray(values, dtype=float))
    n = len(ordered)
    if n == 0:
        raise ValueError("median_ci of no values")
    if n == 1 or ordered[0] == ordered[-1]:
        return Interval(float(ordered[0]), float(ordered[-1]))
    k = _order_rank(n)
    low, high = (ordered[k - 1], ordered[n - k]) if k else (ordered[0], ordered[-1])
    positive = ordered[0] > 0  # else (a drop below the noise can read negative) t on the values themselves
    scale = np.log(ordered) if positive else ordered
    centre, half = scale.mean(), _t_quantile(n) * scale.std(ddof=1) / math.sqrt(n)
    t_low, t_high = (math.exp(centre - half), math.exp(centre + half)) if positive else (centre - half, centre + half)
    return Interval(float(min(low, t_low)), float(max(high, t_high)))


def relative_half_width(interval: Interval, centre: float) -> float:
    """Half the interval's width as a fraction of `centre`; inf when it reaches across zero."""
    if centre <= 0 or interval.low <= 0 < interval.high or math.isinf(interval.high):
        return math.inf
    return (interval.high - interval.low) / 2 / centre


def _ratio_of_medians(top: np.ndarray, bottom: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(top, axis=axis) / np.median(bottom, axis=axis)


def ratio_ci(values: list[float], baseline: list[float]) -> Interval:
    """95% interval of median(values) / median(baseline), both positive: on the log scale each
    side's distance from its median adds in quadrature, as independent errors do."""
    top, bottom = median(values), median(baseline)
    if top <= 0 or bottom <= 0:
        raise ValueError("ratio_ci of medians that are not both positive")
    a, b = median_ci(values), median_ci(baseline)
    if a.low <= 0 or b.low <= 0:  # an interval reaching zero: the ratio may be anything
        return Interval(0.0 if a.low <= 0 else a.low / b.high, math.inf)
    log_ratio = math.log(top / bottom)
    below = math.hypot(math.log(top / a.low), math.log(b.high / bottom))
    above = math.hypot(math.log(a.high / top), math.log(bottom / b.low))
    return Interval(math.exp(log_ratio - below), math.exp(log_ratio + above))


def bootstrap_ratio_ci(values: list[float], baseline: list[float], seed: int = 0) -> Interval:
    """Percentile-bootstrap CI of median(values) / median(baseline), each sample resampled on its own."""
    return _bootstrap((values, baseline), _ratio_of_medians, seed)


def paired_ratio_ci(values: list[float], baseline: list[float], seed: int = 0) -> Interval:
    """CI of the median of values[i] / baseline[i]: each pair was measured together, so resampling
    whole pairs lets what they shared (the host's state at that moment) cancel out."""
    ratios = [v / b for v, b in zip(values, baseline, strict=True)]
    return _bootstrap((ratios,), np.median, seed)


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
