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


def test_the_interval_of_a_constant_or_of_one_value_is_the_value() -> None:
    assert stats.median_ci([7.0] * 6) == stats.Interval(7.0, 7.0)
    assert stats.median_ci([3.0]) == stats.Interval(3.0, 3.0)
    assert stats.ratio_ci([8.0, 8.0], [4.0, 4.0]) == stats.Interval(2.0, 2.0)


def test_from_six_values_the_interval_holds_order_statistics() -> None:
    values = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 30.0, 10.3]
    ci = stats.median_ci(values)  # n = 9: [x(2), x(8)] holds the median 96.1% of the time
    assert ci.low <= 9.8 and ci.high >= 10.5  # and the outlier does not drag it to 30
    assert ci.high < 30.0
    assert stats.distribution_free_coverage(9) == pytest.approx(1 - 2 * 10 / 512)
    assert stats.distribution_free_coverage(3) == 0.75 and stats.distribution_free_coverage(6) > stats.CONFIDENCE


def test_below_six_values_the_t_part_widens_the_range() -> None:
    values = [9.9, 10.0, 10.1]
    ci = stats.median_ci(values)
    logs = np.log(values)
    half = 6.205 * logs.std(ddof=1) / math.sqrt(3)  # t(0.9875, 2 df)
    assert ci.low == pytest.approx(math.exp(logs.mean() - half), rel=1e-3)
    assert ci.high == pytest.approx(math.exp(logs.mean() + half), rel=1e-3)
    assert ci.low < 9.9 and ci.high > 10.1


def test_values_not_all_positive_take_the_t_part_on_the_values() -> None:
    ci = stats.median_ci([-3.7, 1.0, 2.5])
    assert ci.low < -3.7 and ci.high > 2.5


def test_the_interval_narrows_with_more_data() -> None:
    few = [9.0, 10.0, 11.0, 12.0, 8.0]
    many = few * 8
    wide, narrow = stats.median_ci(few), stats.median_ci(many)
    assert narrow.high - narrow.low < wide.high - wide.low


def test_ratio_ci_of_a_scaled_copy_holds_the_scale() -> None:
    base = [4.0, 5.0, 6.0]
    ci = stats.ratio_ci([2 * v for v in base], base)
    assert ci.low <= 2.0 <= ci.high


def test_ratio_ci_excludes_one_for_a_clear_difference() -> None:
    slow = [13.0, 13.2, 12.9, 13.1, 13.0, 13.05]
    fast = [10.0, 10.1, 9.9, 10.0, 10.05, 9.95]
    ci = stats.ratio_ci(slow, fast)
    assert 1.25 < ci.low <= 1.3 <= ci.high < 1.35


def test_the_bootstrap_ratio_is_reproducible() -> None:
    a, b = [13.0, 13.2, 12.9], [10.0, 10.1, 9.9]
    assert stats.bootstrap_ratio_ci(a, b, seed=4) == stats.bootstrap_ratio_ci(a, b, seed=4)


def test_rank_test_with_a_single_value_is_exact() -> None:
    base = [1.0, 2.0, 3.0, 4.0]
    assert stats.rank_test(base, [5.0], "greater").p == pytest.approx(1 / 5)  # the highest of 5 places
    assert stats.rank_test(base, [5.0], "less").p == 1.0
    assert stats.rank_test(base, [2.5], "greater").p == pytest.approx(3 / 5)
    assert stats.rank_test([0.5], base, "greater").p == pytest.approx(1 / 5)  # current all above the baseline
    assert stats.rank_test([2.0], [2.0], "greater").p == 1.0 and stats.rank_test([1.0], [2.0], "greater").min_p == 0.5
