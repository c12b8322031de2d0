"""The degradation statistics, on fixed seeds: what the interval covers and how often it calls a loss.

Stated rates (400 simulated victims, 5 trials alone and 5 beside the stress, log-normal noise):
at 3 % noise, the 95 % interval covers the true D 95.2 % of the time whether the neighbour took
nothing or 20 %; it reports a loss (the whole interval above 0) for a neighbour that took nothing
2 % of the time and for one that took 20 % every time. At 10 % noise a 10 % loss is covered
95.2 % of the time but reported as a loss only 23.5 %: five trials a side cannot tell it from
noise, and the report must say "too wide to say" rather than "no loss".
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis.degradation import degradation

RUNS = 400


def simulated(true_percent: float, better: str, noise: float, seed: int) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    factor = 1 - true_percent / 100 if better == "higher" else 1 + true_percent / 100
    return list(1000 * rng.lognormal(0, noise, 5)), list(1000 * factor * rng.lognormal(0, noise, 5))


def rates(true_percent: float, better: str, noise: float) -> tuple[float, float]:
    """(the share of intervals covering the true D, the share reporting a loss)."""
    covered = loss = 0
    for seed in range(RUNS):
        alone, beside = simulated(true_percent, better, noise, seed)
        d = degradation(alone, beside, better, seed=seed)
        covered += d.interval.low <= true_percent <= d.interval.high
        loss += d.interval.low > 0
    return covered / RUNS, loss / RUNS


@pytest.mark.parametrize("true_percent, better", [(0, "higher"), (20, "higher"), (20, "lower")])
def test_the_interval_covers_the_true_degradation(true_percent: float, better: str) -> None:
    covered, loss = rates(true_percent, better, 0.03)
    assert covered >= 0.93, covered
    if true_percent == 0:
        assert loss <= 0.04, loss  # a neighbour that took nothing is rarely called a loss
    else:
        assert loss >= 0.99, loss


def test_a_loss_within_noise_is_often_not_called() -> None:
    covered, loss = rates(10, "higher", 0.10)
    print(f"\n10 % loss at 10 % noise: covered {covered:.3f}, called a loss {loss:.3f}")
    assert covered >= 0.93 and 0.15 < loss < 0.35, (covered, loss)


def test_signs_and_units_of_d() -> None:
    throughput = degradation([100.0, 100.0, 100.0], [80.0, 80.0, 80.0], "higher")
    assert throughput.percent == pytest.approx(20) and throughput.interval.low == pytest.approx(20)
    latency = degradation([2.0, 2.0], [3.0, 3.0], "lower")  # p99 from 2 ms to 3 ms: a 50 % loss
    assert latency.percent == pytest.approx(50)
    gained = degradation([100.0, 100.0], [110.0, 110.0], "higher")
    assert gained.percent == pytest.approx(-10) and gained.text() == "-10.0 % [-10.0, -10.0]"


def test_a_victim_that_did_not_complete_is_dnr_and_a_partial_one_says_so() -> None:
    dnr = degradation([100.0, 101.0], [], "higher", attempted=3)
    assert dnr.did_not_run and math.isnan(dnr.percent) and dnr.text() == "DNR (0 of 3 completed)"
    partial = degradation([100.0, 100.0, 100.0], [90.0, 90.0], "higher", attempted=3)
    assert not partial.did_not_run and partial.text() == "+10.0 % [+10.0, +10.0], 2 of 3 completed"


def test_no_baseline_or_a_bad_direction_is_refused() -> None:
    with pytest.raises(ValueError, match="no figure of the victim alone"):
        degradation([], [1.0], "higher")
    with pytest.raises(ValueError, match="better must be 'higher' or 'lower'"):
        degradation([1.0], [1.0], "faster")
