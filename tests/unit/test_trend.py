"""The trend report of a synthetic fleet: 3 hosts × 60 runs of the default suite's headline
series, with known steps; every step marked with its magnitude and stack change."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.history import ingest, store, trend
from bench.history.ingest import HostFacts, PointData, RunData, SeriesKey
from tests.unit.test_report import parse

PLATFORMS = ("native", "docker", "docker-app", "vm")
METRICS = {("boot", "boot_s"): ("s", "lower", 0.2), ("cpu", "score"): ("events/s", "higher", 4000.0),
           ("idle", "mem_pss_mean_mib"): ("MiB", "lower", 14.0)}
RUNS = 60
STEP_AT = 40  # on host b, from this run on, docker's boot takes 30% longer: docker engine 20.10 → 24.0


def fleet(path: Path, label: str = "") -> store.Store:
    rng = np.random.default_rng(13)
    history = store.open_store(str(path), create=True)
    runs = []
    for h, name in enumerate(("lab-a", "lab-b", f"lab-c{label}")):
        host = HostFacts(f"{h:016x}", name)
        for r in range(RUNS):
            stepped = name == "lab-b" and r >= STEP_AT
            points = []
            for (workload, metric), (unit, better, base) in METRICS.items():
                for k, platform in enumerate(PLATFORMS):
                    accel = "tcg" if platform == "vm" else "none"
                    level = base * (1 + k) * (1.3 if stepped and (workload, platform) == ("boot", "docker") else 1)
                    m = level * (1 + 0.01 * rng.standard_normal())
                    points.append(PointData(SeriesKey(workload + label, platform, accel, metric, unit, better),
                                            m, m * 0.99, m * 1.01, (m,)))
            runs.append(RunData(host, f"run{r:03d}", f"2026-10-{1 + r // 24:02d}T{r % 24:02d}:00:00Z", points,
                                stack={"docker_engine": "24.0" if stepped else "20.10", "image_key": "k" * 16}))
    ingest.add(history, runs)
    return history


def test_every_step_is_a_marked_change_point_with_its_magnitude(tmp_path: Path) -> None:
    history = fleet(tmp_path / "h.sqlite")
    try:
        built = trend.build(history)
    finally:
        history.close()
    assert built.hosts == ["lab-a", "lab-b", "lab-c"]
    assert [(c.host, c.series) for c in built.changes] == [("lab-b", "boot boot_s on docker")]
    (change,) = built.changes
    assert change.first_after == f"run{STEP_AT:03d}" and change.change == pytest.approx(0.3, abs=0.03)
    assert change.stack_changes == {"docker_engine": ["20.10", "24.0"]}
    (panel,) = [p for p in built.panels[("boot", "boot_s")] if p.host == "lab-b"]
    docker = next(line for line in panel.lines if line.platform == "docker")
    assert docker.changes[0][0] == STEP_AT and docker.levels[0] == pytest.approx(0.4, rel=0.02)
    assert docker.levels[-1] == pytest.approx(0.52, rel=0.02)
    # The overhead over native, run by run: docker's boot went from 2× native's to 2.6×.
    ratio = next(line for line in panel.ratios if line.platform == "docker")
    assert ratio.medians[0] == pytest.approx(2.0, rel=0.05) and ratio.medians[-1] == pytest.approx(2.6, rel=0.05)


def test_the_report_renders_the_fleet_escaped_and_deterministic(tmp_path: Path) -> None:
    fleet(tmp_path / "h.sqlite", label="<script>x</script>").close()
    out = [tmp_path / "a.html", tmp_path / "b.html"]
    for path in out:
        assert main(["-q", "history", "report", "--db", str(tmp_path / "h.sqlite"), "-o", str(path)]) == 0
    assert out[0].read_bytes() == out[1].read_bytes()
    tree = parse(out[0])
    assert "script" not in tree.tags and "&lt;script&gt;" in out[0].read_text()
    text = " ".join(tree.text)
    assert "+30.0% docker" in out[0].read_text() or re.search(r"\+(29|30|31)\.\d% docker", out[0].read_text())
    assert "docker_engine: 20.10 → 24.0" in text
    assert {"changes", "portability", "trends"} <= tree.ids
    assert out[0].read_text().count('class="trend"') == 3 * 3 * 2  # 3 metrics × 3 hosts, each with its ratio chart


def test_an_empty_history_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store.open_store(str(tmp_path / "e.sqlite"), create=True).close()
    assert main(["history", "report", "--db", str(tmp_path / "e.sqlite"), "-o", str(tmp_path / "t.html")]) == 2
    assert "no runs in" in capsys.readouterr().err and not (tmp_path / "t.html").exists()
