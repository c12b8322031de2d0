"""Speed targets of the results history, measured and reported by pytest-benchmark (not asserted):

- change-point detection over 500 series × 200 runs, read from an SQLite store: target under 10 s;
- `bench history add` of a run the size of the full suite (382 series × 3 trials, as the full
  suite measured here): target under 2 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.history import changepoints, detect, ingest, store
from bench.history.ingest import HostFacts, PointData, RunData
from bench.model.series import SeriesKey
from tests.unit.synthetic_runs import write_run

SERIES, RUNS = 500, 200


def synthetic_history(path: Path) -> store.Store:
    """500 series of 200 runs with 3% noise; a third of them step by 10-20% once, a sixth twice."""
    rng = np.random.default_rng(2026)
    keys = [SeriesKey(f"w{i // 50}", "docker", "none", f"m{i % 50}", "", "s", "lower") for i in range(SERIES)]
    levels = np.ones((SERIES, RUNS)) * rng.uniform(1, 100, (SERIES, 1))
    for i in range(SERIES):
        for _ in range((i % 6 == 0) + (i % 3 == 0)):
            levels[i, rng.integers(20, RUNS - 20):] *= rng.choice([0.85, 0.9, 1.1, 1.2])
    medians = levels * (1 + 0.03 * rng.standard_normal((SERIES, RUNS)))
    host = HostFacts("0123456789abcdef", "bench-host")
    runs = [RunData(host, f"run{r:03d}", f"2026-01-01T{r // 60:02d}:{r % 60:02d}:00Z",
                    [PointData(key, float(medians[i, r]), float(medians[i, r]), float(medians[i, r]),
                               (float(medians[i, r]),)) for i, key in enumerate(keys)])
            for r in range(RUNS)]
    history = store.open_store(str(path), create=True)
    ingest.add(history, runs)
    return history


def test_detection_over_500_series_of_200_runs(benchmark: pytest.FixtureRequest, tmp_path: Path) -> None:
    history = synthetic_history(tmp_path / "history.sqlite")
    try:
        # Each round starts without the permutation nulls, as every `bench history detect` does.
        found = benchmark.pedantic(detect.detect, args=(history,), setup=changepoints._null.cache_clear,
                                   rounds=3, iterations=1)
    finally:
        history.close()
    stepped = {c.series for c in found}
    benchmark.extra_info.update(series=SERIES, runs=RUNS, change_points=len(found), series_with_changes=len(stepped))
    assert 100 <= len(stepped) <= 200  # a third of the series stepped (a few by too little to call)


def test_ingest_of_a_full_suite_run(benchmark: pytest.FixtureRequest, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    values = {(f"w{i % 8}", ("native", "docker", "vm")[i % 3], f"metric_{i}"):
              list(rng.uniform(1, 2, 3)) for i in range(382)}
    run_dir = write_run(tmp_path / "runs", "full", values)
    stores = iter(range(1000))

    def add() -> list[tuple[RunData, bool]]:
        history = store.open_store(str(tmp_path / f"h{next(stores)}.sqlite"), create=True)
        try:
            return ingest.add(history, [ingest.read_run_dir(run_dir, {})])
        finally:
            history.close()

    ((run, added),) = benchmark.pedantic(add, rounds=5, iterations=1)
    benchmark.extra_info.update(series=len(run.points))
    assert added and len(run.points) == 382


def test_trend_report_of_100_runs_on_3_hosts(benchmark: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Target under 20 s: 3 hosts × 100 runs × 200 series (the default suite's count), 10% of
    them stepping once."""
    from bench.history import trend, trend_html

    rng = np.random.default_rng(7)
    keys = [SeriesKey(("boot", "cpu", "idle")[i % 3], ("native", "docker", "docker-app", "vm", "vm-os")[i % 5],
                      "none", f"m{i}", "", "s", "lower") for i in range(200)]
    runs = []
    for h in range(3):
        host = HostFacts(f"{h:016x}", f"lab-{h}")
        levels = rng.uniform(0.01, 10, len(keys))
        for r in range(100):
            medians = levels * (1 + 0.02 * rng.standard_normal(len(keys)))
            medians[: len(keys) // 10] *= 1.25 if r >= 60 else 1.0
            runs.append(RunData(host, f"run{r:03d}", f"2026-01-{1 + r // 24:02d}T{r % 24:02d}:00:00Z",
                                [PointData(k, float(m), float(m) * 0.98, float(m) * 1.02, (float(m),))
                                 for k, m in zip(keys, medians)]))
    history = store.open_store(str(tmp_path / "fleet.sqlite"), create=True)
    try:
        ingest.add(history, runs)

        def report() -> str:
            changepoints._null.cache_clear()
            return trend_html.render_html(trend.build(history), "bench")

        page = benchmark.pedantic(report, rounds=2, iterations=1)
    finally:
        history.close()
    benchmark.extra_info.update(hosts=3, runs=100, series=len(keys), html_bytes=len(page))
    assert page.count('class="trend"') >= 3 * len(keys)  # every series charted on every host
