"""`bench export`: each format loads in the tool it is for."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pytest_benchmark.logger import Logger
from pytest_benchmark.storage.file import FileStorage

from bench.cli.main import main
from tests.unit.synthetic_runs import baseline_values, write_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path, "one", baseline_values(), failed=1)


def test_pytest_benchmark_export_loads_through_pytest_benchmark(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pb.json"
    assert main(["export", str(run_dir), "--format", "pytest-benchmark", "-o", str(out)]) == 0
    storage = FileStorage(tmp_path, default_machine_id="x", logger=Logger(Logger.QUIET))
    loaded = {b["name"]: b for b in storage.load_benchmarks(str(out))}
    # Time metrics only (boot_s and the boot phases), one per platform; no throughput or MiB.
    assert set(loaded) == {f"{m}[{p}]" for m in ("boot_s", "boot_phase.created_s", "boot_phase.ready_s")
                           for p in ("native", "docker", "vm-minimal/tcg")}
    docker = loaded["boot_s[docker]"]
    assert docker["rounds"] == 5 and docker["median"] == pytest.approx(0.3) and docker["group"] == "boot: boot_s"
    assert docker["data"] == pytest.approx([0.3, 0.303, 0.297, 0.3015, 0.2985])


def test_pytest_benchmark_compare_displays_the_export(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pb.json"
    assert main(["export", str(run_dir), "--format", "pytest-benchmark", "-o", str(out)]) == 0
    shown = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(out)],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "boot_s[vm-minimal/tcg]" in shown.stdout and "Failed to load" not in shown.stdout + shown.stderr


def test_github_action_benchmark_files(run_dir: Path, tmp_path: Path) -> None:
    assert main(["export", str(run_dir), "--format", "github-action-benchmark", "-o", str(tmp_path / "gab")]) == 0
    smaller = json.loads((tmp_path / "gab" / "customSmallerIsBetter.json").read_text())
    bigger = json.loads((tmp_path / "gab" / "customBiggerIsBetter.json").read_text())
    assert [e["name"] for e in bigger] == ["cpu score [native]", "cpu score [docker]", "cpu score [vm-minimal/tcg]"]
    assert all(set(e) == {"name", "unit", "value", "range", "extra"} for e in smaller + bigger)
    units = {e["unit"] for e in smaller}
    assert units == {"s", "MiB"}  # times, memory and disk
    memory = next(e for e in smaller if e["name"] == "idle mem_pss_mean_mib [vm-minimal/tcg]")
    assert memory["value"] == pytest.approx(222.0) and memory["range"].startswith("± ")
    # A container adds 0 MiB here: the entry says a ratio against it is undefined; others do not.
    zero = next(e for e in smaller if e["name"] == "idle instance_disk_mib [docker]")
    assert zero["value"] == 0 and "ratio against this value is undefined" in zero["extra"]
    assert not [e for e in smaller + bigger if e["value"] != 0 and "undefined" in e["extra"]]


def test_csv_has_one_row_per_trial(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run_dir), "--format", "csv", "-o", "-"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(table) == 46 and list(table["status"]).count("failed") == 1
    assert table.loc[table["platform"] == "vm", "boot_s [s]"].dropna().median() == pytest.approx(5.5)


def test_json_holds_the_run_the_trials_and_the_summary(run_dir: Path) -> None:
    assert main(["export", str(run_dir), "--format", "json"]) == 0
    data = json.loads((run_dir / "results.json").read_text())
    assert data["run"]["run_id"] == "one" and len(data["trials"]) == 46
    assert {row["metric"] for row in data["summary"]} >= {"boot_s", "score"}


def test_json_has_null_where_a_ratio_interval_is_unbounded(tmp_path: Path) -> None:
    """A count that native's trials saw 0 and 1 times: its ratio's upper bound is infinite (a
    real noisy-neighbour run's neighbour_oom_kills stopped the export before)."""
    values = {("noisy", p, "neighbour_oom_kills"): v for p, v in (("native", [0.0, 1.0, 1.0]), ("docker", [1.0] * 3))}
    run = write_run(tmp_path, "zero", values, kinds={"neighbour_oom_kills": ("count", "lower")})
    assert main(["export", str(run), "--format", "json"]) == 0
    (docker,) = [r for r in json.loads((run / "results.json").read_text())["summary"] if r["platform"] == "docker"]
    assert docker["ratio_to_native"] == 1.0 and docker["ratio_ci_high"] is None


def test_an_unknown_format_exits_2(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run_dir), "--format", "xml"]) == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_every_export_renders_a_series_dimensions_readably(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = {("redis", p, f"{m}@clients={c}"): [v * c, v * c * 1.01] for p in ("native", "docker")
              for m, v in (("get_ops_s", 1000.0), ("server_ready_s", 0.1)) for c in (1, 10)}
    run = write_run(tmp_path, "dims", values, kinds={"get_ops_s": ("ops/s", "higher")})
    assert main(["export", str(run), "--format", "github-action-benchmark", "-o", str(tmp_path / "gab")]) == 0
    bigger = json.loads((tmp_path / "gab" / "customBiggerIsBetter.json").read_text())
    assert [e["name"] for e in bigger] == ["redis get_ops_s at clients=1 [native]", "redis get_ops_s at clients=1 [docker]",
                                           "redis get_ops_s at clients=10 [native]", "redis get_ops_s at clients=10 [docker]"]
    assert main(["export", str(run), "--format", "pytest-benchmark", "-o", str(tmp_path / "pb.json")]) == 0
    benchmarks = json.loads((tmp_path / "pb.json").read_text())["benchmarks"]
    assert {b["name"] for b in benchmarks} == {f"server_ready_s[{p}-clients={c}]" for p in ("native", "docker")
                                               for c in (1, 10)}
    assert all(b["params"]["clients"] in ("1", "10") for b in benchmarks)
    capsys.readouterr()
    assert main(["export", str(run), "--format", "csv", "-o", "-"]) == 0
    columns = pd.read_csv(io.StringIO(capsys.readouterr().out)).columns
    assert {"get_ops_s at clients=1 [ops/s]", "get_ops_s at clients=10 [ops/s]"} <= set(columns)
    assert main(["export", str(run), "--format", "json"]) == 0
    rows = json.loads((run / "results.json").read_text())["summary"]
    assert {(r["metric"], r["dimensions"]) for r in rows if r["platform"] == "docker"} == {
        ("get_ops_s", "clients=1"), ("get_ops_s", "clients=10"), ("server_ready_s", "clients=1"),
        ("server_ready_s", "clients=10")}
