"""Human units: what the report, the terminal table and compare print."""

from __future__ import annotations

import math

import pytest

from bench.model import units


@pytest.mark.parametrize("value, unit, shown", [
    (3.310e-04, "s", "331 µs"),
    (0.01781, "s", "17.8 ms"),
    (0.0009997, "s", "1.00 ms"),  # rounds up into the next unit, not "1000 µs"
    (9.996, "s", "10.0 s"),
    (1.5e-9, "s", "1.50 ns"),
    (0.0, "s", "0 s"),
    (332.11, "MiB", "332 MiB"),
    (0.5, "MiB", "512 KiB"),
    (83600793600, "bytes", "77.9 GiB"),
    (14291.0, "Mbit/s", "14.3 Gbit/s"),
    (83.1, "µs", "83.1 µs"),
    (1234.5, "events/s", "1,230 events/s"),  # an unknown unit keeps its name, three digits
    (123456789.0, "iops", "123,000,000 iops"),
])
def test_values_read_as_a_person_writes_them(value: float, unit: str, shown: str) -> None:
    assert units.human(value, unit) == shown
    assert "e+" not in shown and "e-" not in shown


def test_an_interval_takes_its_median_scale() -> None:
    assert units.interval(0.0003, 0.0004, "s", like=0.00033) == "300–400 µs"
    assert units.interval(0.9, 1.2, "s", like=1.0) == "0.900–1.20 s"


def test_ratios_and_missing_values() -> None:
    assert [units.ratio(v) for v in (7.5, 0.98, 1234.0, 1.0)] == ["7.5×", "0.98×", "1,230×", "1×"]
    assert units.ratio(math.nan) == "—" and units.human(None, "s") == "—" and units.human(math.nan, "s") == "—"
    assert units.significant(math.inf) == "∞"
