"""Where a series' level changed: E-divisive means places each split, a rank test judges it.

E-divisive means (Matteson & James 2014, as MongoDB used it for performance history in 2020)
puts the split of a segment where the energy distance between its two sides, weighted by
their sizes, is largest; then splits both sides again. A split stands only if its segment is
not homogeneous: the test statistic is the largest standardised Mann-Whitney U of before
against after over every place a split could go, so the search for the best place is paid
for; its null distribution comes from scipy.stats.permutation_test of the ranks. On ranks that null depends only on the segment's
length (and ties), so it is computed once per length and reused; ranks also make a single
outlier harmless.

A split is kept only if it is significant at `alpha` and moves the level by at
least `min_change` or `noise_factor` × the series' noise, whichever is larger (levels and
noise are robust: see `level` and `noise`). After the search, the weakest split that fails
either is dropped and the rest judged again between their new neighbours, until all hold (as
Apache Otava prunes weak change points). Where exactly a
change happened is uncertain by a run or two: each change also gets the range of runs its
first new-level run lies in (see `location_range`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats


NULL_RESAMPLES = 9999  # permutations behind each null distribution: p resolves down to 1e-4
SEED = 0  # the permutations are seeded: the same series give the same change points


@dataclass(frozen=True)
class Settings:
    alpha: float = 0.001
    min_size: int = 3  # runs on each side of a change
    min_change: float = 0.03  # relative change of the level
    noise_factor: float = 2.0  # ... and at least this many times the series' noise


@dataclass(frozen=True)
class Shift:
    index: int  # the first point after the change
    p: float  # permutation p of the segment around it being homogeneous
    before: float  # the level of the segment before (see `level`)
    after: float  # ... and after, up to the neighbouring changes
    change: float  # relative change of the level: +0.1 = 10% higher
    noise: float  # the series' noise, relative to its level, when this change was judged
    first: int  # the first new-level point lies in first..last (95%), index included
    last: int
    # The most likely place leaves min_size points on each side; a step with fewer after it
    # (the split forced min_size away from the end) waits for more runs.
    settled: bool = True


def level(values: np.ndarray) -> float:
    """A segment's level: its Hodges-Lehmann estimate, the median of all pairwise means. As
    robust as the median to an outlier, and nearly as precise as the mean on normal noise."""
    i, j = np.triu_indices(len(values))
    return float(np.median((values[i] + values[j]) / 2))


def relative(before: float, after: float) -> float:
    if before == 0:
        return 0.0 if after == 0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


def noise(data: np.ndarray, splits: list[int]) -> float:
    """The series' run-to-run noise relative to its level: the median absolute deviation of
    each point from its own segment's median (0.67 s for normal noise of standard deviation s)."""
    centre = abs(float(np.median(data)))
    if centre == 0:
        return 0.0
    deviations = [np.abs(part - np.median(part)) for part in np.split(data, splits)]
    return float(np.median(np.concatenate(deviations)) / centre)


def energy_split(values: np.ndarray, min_size: int) -> int | None:
    """The split index (first point of the right side) maximising the E-divisive statistic
    q = m n / T * (2/(m n) * between - within_left / C(m,2) - within_right / C(n,2)),
    with |x - y| as the distance; None when the segment is too short to split."""
    total_n = len(values)
    if total_n < 2 * min_size:
        return None
    distances = np.abs(values[:, None] - values[None, :])
    upper = np.triu(distances, 1)
    column_sums = upper.sum(axis=0)  # point k's distances to the points before it
    row_sums = upper.sum(axis=1)  # point j's distances to the points after it
    splits = np.arange(min_size, total_n - min_size + 1)
    within_left = np.cumsum(column_sums)[splits - 1]
    within_right = np.cumsum(row_sums[::-1])[::-1][splits]
    between = upper.sum() - within_left - within_right
    m, n = splits.astype(float), (total_n - splits).astype(float)
    q = m * n / total_n * (2 * between / (m * n) - within_left / (m * (m - 1) / 2) - within_right / (n * (n - 1) / 2))
    return int(splits[int(np.argmax(q))])


def _max_rank_z(ranks: np.ndarray, min_size: int, axis: int = -1) -> np.ndarray:
    """The test statistic of each row of ranks: the largest |z| of the Mann-Whitney U of the
    points before a split against those after, over every split. Standardised per split, so a
    step near the end of a history (a new regression) weighs as much as one in the middle; an
    unstandardised maximum (Pettitt's) misses most steps with 6 runs after them in 40."""
    ranks = np.moveaxis(ranks, axis, -1)
    total_n = ranks.shape[-1]
    left = np.arange(min_size, total_n - min_size + 1)
    # U - E[U] of the first `left` points is the sum of their ranks less left * (n + 1) / 2.
    # In place: on a null's 10^4 permutations each fresh array costs more than its arithmetic.
    deviation = ranks - (total_n + 1) / 2
    np.cumsum(deviation, axis=-1, out=deviation)
    z = deviation[..., min_size - 1:total_n - min_size]
    np.abs(z, out=z)
    z *= 1 / np.sqrt(left * (total_n - left) * (total_n + 1) / 12)
    return np.max(z, axis=-1)


@functools.lru_cache(maxsize=512)
def _null(sorted_ranks: tuple[float, ...], min_size: int) -> np.ndarray:
    """The statistic over random orders of these ranks: its distribution if nothing changed."""
    result = scipy.stats.permutation_test((np.asarray(sorted_ranks),), functools.partial(_max_rank_z, min_size=min_size),
                                          permutation_type="pairings", vectorized=True, n_resamples=NULL_RESAMPLES,
                                          alternative="greater", rng=np.random.default_rng(SEED))
    return np.sort(result.null_distribution)


def homogeneity_p(segment: np.ndarray, min_size: int) -> float:
    """p of `segment` having no change anywhere (at least `min_size` points each side)."""
    if len(segment) < 2 * min_size or np.ptp(segment) == 0:
        return 1.0
    ranks = scipy.stats.rankdata(segment)
    observed = float(_max_rank_z(ranks, min_size))
    null = _null(tuple(np.sort(ranks)), min_size)
    exceeding = len(null) - np.searchsorted(null, observed * (1 - 1e-12), side="left")
    return float((exceeding + 1) / (len(null) + 1))


def _candidates(data: np.ndarray, settings: Settings) -> list[int]:
    """Every significant split, found by splitting segments until none is left."""
    found: list[int] = []
    todo = [(0, len(data))]
    while todo:
        start, end = todo.pop()
        at = energy_split(data[start:end], settings.min_size)
        if at is None or homogeneity_p(data[start:end], settings.min_size) > settings.alpha:
            continue
        found.append(start + at)
        todo += [(start, start + at), (start + at, end)]
    return sorted(found)


def location_range(segment: np.ndarray, split: int) -> tuple[int, int, int]:
    """Where in `segment` the first new-level point lies: the most likely place, and the range
    holding it with 95% (`split` included). From the profile likelihood of a step at each place
    (least squares, both levels fitted at each place; the scale from the robust noise), over
    every place, ends included, normalised and cut at 2.5% in each tail. On synthetic steps of
    1.5 to 3 times the noise the range holds the true place 96-99% of the time."""
    total_n = len(segment)
    places = np.arange(1, total_n)
    residuals = np.concatenate([part - level(part) for part in (segment[:split], segment[split:])])
    scale = 1.4826 * float(np.median(np.abs(residuals)))  # the MAD as a normal standard deviation
    if scale == 0:
        return split, split, split
    sums = np.cumsum(segment)[places - 1]
    m, n = places.astype(float), (total_n - places).astype(float)
    between = m * n / total_n * (sums / m - (segment.sum() - sums) / n) ** 2
    weights = np.exp((between - between.max()) / (2 * scale**2))
    cumulative = np.cumsum(weights) / weights.sum()
    first, last = places[np.searchsorted(cumulative, 0.025)], places[np.searchsorted(cumulative, 0.975)]
    return min(int(first), split), max(int(last), split), int(places[np.argmax(between)])


def _judge(data: np.ndarray, splits: list[int], settings: Settings) -> list[Shift]:
    """Each split against the segments between its neighbours.

    The levels are those of the two sides of the split. Leaving out the runs within the
    location range instead biases them apart: the runs left out are those that look like the
    other side (measured: +1.1% on a 10% step)."""
    edges = [0, *splits, len(data)]
    spread = noise(data, splits)
    shifts = []
    for i, split in enumerate(splits):
        segment = data[edges[i]:edges[i + 2]]
        at = split - edges[i]
        first, last, likeliest = location_range(segment, at)
        before, after = level(segment[:at]), level(segment[at:])
        settled = settings.min_size <= likeliest <= len(segment) - settings.min_size
        shifts.append(Shift(split, homogeneity_p(segment, settings.min_size), before, after,
                            relative(before, after), spread, edges[i] + first, edges[i] + last, settled))
    return shifts


def detect(values: Sequence[float], settings: Settings = Settings()) -> list[Shift]:
    """The changes of level in `values` (in run order), earliest first. Deterministic."""
    data = np.asarray(values, dtype=float)
    if len(data) < 2 * settings.min_size:
        return []
    splits = _candidates(data, settings)
    while True:
        shifts = _judge(data, splits, settings)
        # A split below the magnitude floor, or not settled yet, is never reported, and removing
        # it only adds runs to its neighbours' segments: drop those first (smallest change
        # first), then the insignificant ones.
        small = [s for s in shifts if not s.settled
                 or abs(s.change) < max(settings.min_change, settings.noise_factor * s.noise)]
        doubtful = [s for s in shifts if s.p > settings.alpha]
        if small:
            splits.remove(min(small, key=lambda s: (s.settled, abs(s.change))).index)
        elif doubtful:
            splits.remove(max(doubtful, key=lambda s: s.p).index)
        else:
            return shifts
