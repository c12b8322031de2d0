"""The trend report of a synthetic fleet: 3 hosts × 60 runs of the default suite's headline
series, with known steps; every step marked with its magnitude and stack change."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cli.main import main
from bench.definitions.workload import ARTIFACT_METRIC
from bench.history import ingest, store, trend
from bench.history.ingest import EqualValue, HostFacts, PointData, RunData
from bench.model.series import SeriesKey
from tests.unit.test_report import parse

PLATFORMS = ("native", "docker", "docker-app", "vm")
METRICS = {("boot", "boot_s"): ("s", "lower", 0.2), ("cpu", "score"): ("events/s", "higher", 4000.0),
           ("idle", "mem_pss_mean_mib"): ("MiB", "lower", 14.0)}
RUNS = 60
DIGEST = "5f" * 32  # hello's sha256 of the image's package database
ARTIFACT = "ab" * 32  # the artifact hello ran from
STEP_AT = 40  # on host b, from this run on, docker's boot takes 30% longer: docker engine 20.10 → 24.0


def fleet(path: Path, label: str = "", digests: dict[tuple[str, str], str] | None = None,
          artifacts: dict[tuple[str, str], str] | None = None) -> store.Store:
    """`digests`: (host, platform) → what hello printed there, where it is not DIGEST;
    `artifacts`: (host, platform) → the artifact hello ran from there, where it is not ARTIFACT."""
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
                    points.append(PointData(SeriesKey(workload + label, platform, accel, metric, "", unit, better),
                                            m, m * 0.99, m * 1.01, (m,)))
            hello = {EqualValue(SeriesKey("hello", platform, "tcg" if platform == "vm" else "none", "score", "", "sha256",
                                          "equal"), (digests or {}).get((name, platform), DIGEST)) for platform in PLATFORMS}
            hello |= {EqualValue(SeriesKey("hello", platform, "tcg" if platform == "vm" else "none", ARTIFACT_METRIC, "",
                                           "sha256", "equal"), (artifacts or {}).get((name, platform), ARTIFACT))
                      for platform in PLATFORMS}
            runs.append(RunData(host, f"run{r:03d}", f"2026-10-{1 + r // 24:02d}T{r % 24:02d}:00:00Z", points,
                                stack={"docker_engine": "24.0" if stepped else "20.10", "image_key": "k" * 16},
                                equal_values=hello if r % 10 == 0 else set()))  # hello ran in every tenth run
    ingest.add(history, runs)
    return history


def built_fleet(path: Path, **options: Any) -> trend.Trend:
    history = fleet(path, **options)
    try:
        return trend.build(history)
    finally:
        history.close()


def test_every_step_is_a_marked_change_point_with_its_magnitude(tmp_path: Path) -> None:
    built = built_fleet(tmp_path / "h.sqlite")
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


def test_the_hosts_that_ran_identical_artifacts_are_named(tmp_path: Path) -> None:
    same = built_fleet(tmp_path / "same.sqlite")
    assert same.same_artifacts == "All 3 hosts ran identical artifacts on every platform."
    assert same.artifacts[0] == {"platform": PLATFORMS[0], "lab-a": "abababababab…", "lab-b": "abababababab…",
                                 "lab-c": "abababababab…"}
    moved = built_fleet(tmp_path / "moved.sqlite", artifacts={("lab-c", "vm"): "cd" * 32})
    assert moved.same_artifacts == ("Hosts that ran identical artifacts: lab-a, lab-b; lab-c (each group apart "
                                    "from the others).")
    assert next(r for r in moved.artifacts if r["platform"] == "vm")["lab-c"] == "cdcdcdcdcdcd…"
    # The hello digests are read apart from the artifacts': every host still ran the same user space.
    assert moved.user_space.startswith("Every platform on all 3 hosts printed the same hello digest")


def test_the_portability_table_shows_each_hosts_hello_digest(tmp_path: Path) -> None:
    built = built_fleet(tmp_path / "h.sqlite")
    # The newest run (run059) did not run hello; run050 did, and says so.
    assert [row["hello digest"] for row in built.portability] == ["5f5f5f5f5f5f… (run run050)"] * 3
    assert built.user_space == ("Every platform on all 3 hosts printed the same hello digest (5f5f5f5f5f5f…): "
                                "byte-identical user space ran everywhere.")


@pytest.mark.parametrize("digests, row, sentence", [
    ({("lab-c", "vm"): "ab" * 32}, "differs: docker 5f5f5f5f5f5f…, docker-app 5f5f5f5f5f5f…, native 5f5f5f5f5f5f…, "
     "vm-minimal/tcg abababababab… (run run050)", "On lab-c the platforms printed different hello digests"),
    ({("lab-c", p): "ab" * 32 for p in PLATFORMS}, "abababababab… (run run050)",
     "The hosts ran 2 different user spaces (hello digests 5f5f5f5f5f5f…, abababababab…)"),
])
def test_a_user_space_that_differs_is_called_out(tmp_path: Path, digests: dict, row: str, sentence: str) -> None:
    built = built_fleet(tmp_path / "h.sqlite", digests=digests)
    assert built.portability[2]["host"] == "lab-c" and built.portability[2]["hello digest"] == row
    assert built.portability[0]["hello digest"] == "5f5f5f5f5f5f… (run run050)"
    assert built.user_space.startswith(sentence)


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
    assert "docker_engine: 20.10 → 24.0" in text  # in the table of change points
    # and beside the marker, with the whole of it as the marker's tooltip
    (marker,) = re.findall(r'<g class="change">.*?</g>', out[0].read_text())
    assert re.search(r'<title>regression: \+(29|30|31)\.\d% on docker from run run040; stack: '
                     r'docker_engine: 20\.10 → 24\.0</title>', marker)
    assert re.search(r'>\+(29|30|31)\.\d% docker · docker_engine 20\.10 → 24\.0</text>', marker)
    assert {"changes", "portability", "trends"} <= tree.ids
    assert "byte-identical user space ran everywhere" in text and "5f5f5f5f5f5f… (run run050)" in text
    assert out[0].read_text().count('class="trend"') == 3 * 3 * 2  # 3 metrics × 3 hosts, each with its ratio chart


def test_an_empty_history_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store.open_store(str(tmp_path / "e.sqlite"), create=True).close()
    assert main(["history", "report", "--db", str(tmp_path / "e.sqlite"), "-o", str(tmp_path / "t.html")]) == 2
    assert "no runs in" in capsys.readouterr().err and not (tmp_path / "t.html").exists()


def test_the_history_as_github_action_benchmark_data_per_host(tmp_path: Path) -> None:
    import json

    fleet(tmp_path / "h.sqlite").close()
    out = tmp_path / "gab"
    assert main(["-q", "history", "export", "--db", str(tmp_path / "h.sqlite"), "--format",
                 "github-action-benchmark", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["lab-a", "lab-b", "lab-c"]
    text = (out / "lab-b" / "data.js").read_text()
    assert text.startswith("window.BENCHMARK_DATA = ")
    data = json.loads(text.removeprefix("window.BENCHMARK_DATA = "))
    smaller = data["entries"]["vmct-bench (smaller is better)"]
    bigger = data["entries"]["vmct-bench (bigger is better)"]
    assert len(smaller) == len(bigger) == RUNS  # one data point per run, oldest first
    assert [p["date"] for p in smaller] == sorted(p["date"] for p in smaller)
    assert {p["tool"] for p in smaller} == {"customSmallerIsBetter"} and bigger[0]["tool"] == "customBiggerIsBetter"
    boot = {b["name"]: b for b in smaller[STEP_AT]["benches"]}["boot boot_s [docker]"]
    assert boot["unit"] == "s" and boot["value"] == pytest.approx(0.52, rel=0.05) and boot["range"].startswith("± ")
    assert smaller[0]["commit"]["message"] == "vmct-bench run run000" and data["lastUpdate"] == smaller[-1]["date"]


def test_the_change_points_as_an_atom_feed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import xml.etree.ElementTree as ET

    fleet(tmp_path / "h.sqlite", label="<b>").close()
    assert main(["-q", "history", "feed", "--db", str(tmp_path / "h.sqlite")]) == 0
    text = capsys.readouterr().out
    atom = "{http://www.w3.org/2005/Atom}"
    root = ET.fromstring(text)
    assert root.tag == f"{atom}feed" and root.find(f"{atom}id") is not None
    (entry,) = root.findall(f"{atom}entry")
    title = entry.find(f"{atom}title").text
    assert title.startswith("regression: boot<b> boot_s on docker on lab-b +") and "%" in title
    assert entry.find(f"{atom}updated").text == root.find(f"{atom}updated").text
    assert "docker_engine: 20.10 → 24.0" in entry.find(f"{atom}summary").text
    assert "<b>" not in text  # escaped as XML text
    assert main(["-q", "history", "feed", "--db", str(tmp_path / "h.sqlite")]) == 0
    assert capsys.readouterr().out == text  # the same history, the same bytes
