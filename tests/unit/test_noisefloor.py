"""The noise floor: what a CV lets a run resolve, the [precision] targets it flags, its place in
run.json and the report's Warnings, and the calibration itself run for real on one CPU."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from bench.analysis.noisefloor import NoiseFloor, precision_warnings
from bench.definitions.suite import Precision
from bench.probes import noisefloor

FLOOR = NoiseFloor(cv=0.02, repetitions=10, seconds_each=0.1, cpus="1", how="test")


def test_what_a_cv_resolves() -> None:
    assert FLOOR.half_width(4) == pytest.approx(1.96 * 0.02 / 2)
    assert FLOOR.resolvable(8) == pytest.approx(1.96 * 0.02 * math.sqrt(2 / 8))
    assert FLOOR.resolvable(2) > FLOOR.resolvable(8)


def test_a_target_tighter_than_the_floor_at_the_cap_is_flagged() -> None:
    # ±1.96 % at 4 repetitions: a 1 % throughput target cannot be reached, 3 % and 10 % can
    found = precision_warnings(Precision(max_repetitions=4, throughput=0.01, memory=0.03, time=0.10), FLOOR)
    assert found == ["[precision] throughput = 1.0% is tighter than the noise floor allows at 4 repetitions "
                     "(about ±2.0%): its cells may run to the cap"]
    assert precision_warnings(None, FLOOR) == []


def test_it_round_trips_through_json() -> None:
    assert NoiseFloor.from_json(FLOOR.to_json()) == FLOOR


def test_the_calibration_runs_on_the_cpu_it_is_given() -> None:
    cpu = sorted(os.sched_getaffinity(0))[-1]
    found = noisefloor.measure((cpu,), repetitions=4, loop=20_000)
    assert found.repetitions == 4 and found.cpus == str(cpu)
    assert 0 < found.seconds_each < 1 and 0 <= found.cv < 1


def test_a_calibration_that_cannot_run_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(noisefloor.sys, "executable", "/nonexistent/python")
    with pytest.raises(noisefloor.BenchError, match="noise floor: the calibration loop did not run"):
        noisefloor.measure((0,), repetitions=2, loop=10)


def test_a_steady_neighbour_during_the_calibration_is_seen() -> None:
    """A busy loop on the same CPU halves the calibration's speed without making it vary: the
    disturbance probe around it shows the share the neighbour took."""
    cpu = sorted(os.sched_getaffinity(0))[-1]
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    try:
        loaded = noisefloor.measure((cpu,), repetitions=4, loop=400_000)
    finally:
        busy.kill()
        busy.wait()
    assert loaded.foreign_pct is not None and loaded.foreign_pct >= 25, loaded
