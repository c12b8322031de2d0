"""Statistics on data whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis import stats


def test_median_iqr_and_cv_of_known_data() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert stats.median(values) == 3.0
    assert stats.iqr(values) == (2.0, 4.0)
    assert stats.cv([10.0, 10.0, 10.0]) == 0.0
    assert stats.cv([9.0, 11.0]) == pytest.approx(math.sqrt(2) / 10)
    assert math.isnan(stats.cv([5.0]))


def test_bootstrap_ci_of_a_constant_is_the_constant() -> None:
    ci = stats.median_ci([7.0] * 6, seed=3)
    assert (ci.low, ci.high) == (7.0, 7.0)


def test_bootstrap_ci_brackets_the_median_and_is_reproducible() -> None:
    values = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 30.0]
    ci = stats.median_ci(values, seed=1)
    assert 9.5 <= ci.low <= stats.median(values) <= ci.high <= 10.5  # the outlier does not drag it
    assert stats.median_ci(values, seed=1) == ci


def test_bootstrap_ci_narrows_with_more_data() -> None:
    few = [9.0, 10.0, 11.0, 12.0, 8.0]
    many = few * 8
    wide, narrow = stats.median_ci(few, seed=2), stats.median_ci(many, seed=2)
    assert narrow.high - narrow.low < wide.high - wide.low


def test_ratio_ci_of_a_scaled_copy_is_the_scale() -> None:
    base = [4.0, 5.0, 6.0]
    ci = stats.ratio_ci([2 * v for v in base], base, seed=5)
    assert ci.low <= 2.0 <= ci.high
    exact = stats.ratio_ci([8.0, 8.0], [4.0, 4.0], seed=5)
    assert (exact.low, exact.high) == (2.0, 2.0)


def test_ratio_ci_excludes_one_for_a_clear_difference() -> None:
    slow = [13.0, 13.2, 12.9, 13.1, 13.0]
    fast = [10.0, 10.1, 9.9, 10.0, 10.05]
    ci = stats.ratio_ci(slow, fast, seed=0)
    assert 1.25 < ci.low <= 1.3 <= ci.high < 1.35


def test_a_median_ci_from_few_values_covers_no_more_than_the_bound() -> None:
    """Draw many small samples from a distribution whose median is known (0) and count how often
    the interval holds it: never more than the bound, and near 95% once n is large enough."""
    rng = np.random.default_rng(11)
    for n, low, high in ((3, 0.68, stats.median_ci_coverage_bound(3) + 0.03), (12, 0.9, 1.0)):
        held = sum(ci.low <= 0 <= ci.high for ci in (stats.median_ci(list(rng.standard_normal(n)), seed=i)
                                                      for i in range(1000)))
        assert low <= held / 1000 <= high, (n, held)
    assert stats.median_ci_coverage_bound(3) == 0.75 and stats.median_ci_coverage_bound(6) > stats.CONFIDENCE


def test_rank_test_with_a_single_value_is_exact() -> None:
    base = [1.0, 2.0, 3.0, 4.0]
    assert stats.rank_test(base, [5.0], "greater").p == pytest.approx(1 / 5)  # the highest of 5 places
    assert stats.rank_test(base, [5.0], "less").p == 1.0
    assert stats.rank_test(base, [2.5], "greater").p == pytest.approx(3 / 5)
    assert stats.rank_test([0.5], base, "greater").p == pytest.approx(1 / 5)  # current all above the baseline
    assert stats.rank_test([2.0], [2.0], "greater").p == 1.0 and stats.rank_test([1.0], [2.0], "greater").min_p == 0.5
