"""The run directory: appended trial records survive a crash; summary.csv from them."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.summary import summarise, table_text
from bench.errors import BenchError
from bench.model.sample import Sample
from bench.model.trial import TrialRecord
from bench.run.runner import current_records
from bench.rundir.info import RunInfo
from bench.rundir.results import RunDir, finished_seqs


def record(seq: int, platform: str, value: float, status: str = "ok", warmup: bool = False,
           metric: str = "score", workload: str = "cpu") -> TrialRecord:
    better = "higher" if metric == "score" else "lower"
    accel = "tcg" if platform == "vm" else "none"
    return TrialRecord("r", seq, platform, workload, warmup=warmup, status=status, accel=accel,
                       samples=[Sample(metric, value, "events/s", better, platform, workload, accel, {"seq": seq})])


SUITE = {"name": "x", "description": "", "platforms": ["native"], "workloads": ["cpu"]}


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return RunDir.create(tmp_path, RunInfo.from_json({"run_id": "r", "suite": SUITE, "plan": []}))


def test_records_round_trip_through_trials_jsonl(run: RunDir) -> None:
    written = [record(1, "native", 100.0), record(2, "docker", 99.0, status="failed")]
    for r in written:
        run.append(r)
    assert run.records() == written


def test_what_append_returns_is_what_a_reader_of_the_file_gets(run: RunDir) -> None:
    """bench run keeps the returned records in memory instead of reading trials.jsonl back: they
    must equal what every reader gets, its dicts in the file's key order (a report lists them)."""
    written = record(1, "vm", 50.0)
    written.phases_s = {"domain_created": 0.5, "booted": 1.5, "ready": 2.0}  # in time order
    written.facts = {"zone": "b", "accel": "tcg"}
    kept = run.append(written)
    (read,) = run.records()
    assert kept == read and list(kept.phases_s) == list(read.phases_s) == ["booted", "domain_created", "ready"]
    assert list(kept.facts) == ["accel", "zone"]
    info = RunInfo.from_json({"run_id": "r", "suite": SUITE, "plan": [], "versions": {"z": "1", "a": "2"}})
    assert run.write_info(info) == run.info() == info


def test_every_figure_is_a_sample_and_the_line_repeats_the_headline_ones_for_readers_of_the_file() -> None:
    digest = "ab" * 32
    where = ("hello", "none", {"seq": 1})
    hello = TrialRecord("r", 1, "docker", "hello", accel="none", status="ok", samples=[
        Sample("boot_s", 0.25, "s", "lower", "docker", *where), Sample("teardown_s", 0.05, "s", "lower", "docker", *where),
        Sample("score", digest, "sha256", "equal", "docker", *where)])
    assert (hello.ready_s, hello.teardown_s, hello.score, hello.score_unit) == (0.25, 0.05, digest, "sha256")
    assert [s.metric for s in hello.quantities] == ["boot_s", "teardown_s"]
    line = hello.to_json()
    assert (line["ready_s"], line["teardown_s"], line["score"], line["score_unit"]) == (0.25, 0.05, digest, "sha256")
    assert TrialRecord.from_json(line) == hello  # the repeats are not read back as a second source


def test_an_older_line_gives_the_same_record_as_a_new_one() -> None:
    """Before every figure was a sample, hello's digest was only `score`, a density trial's
    teardown only `teardown_s`: a reader adopts both as samples."""
    older = {"run_id": "r", "seq": 3, "platform": "vm", "workload": "hello", "repetition": 2, "accel": "tcg",
             "status": "ok", "score": "cd" * 32, "score_unit": "sha256", "ready_s": 4.0, "teardown_s": 0.5,
             "ok": True, "samples": [Sample("boot_s", 4.0, "s", "lower", "vm", "hello", "tcg").to_json(),
                                     Sample("teardown_s", 0.5, "s", "lower", "vm", "hello", "tcg").to_json()]}
    hello = TrialRecord.from_json(older)
    (digest,) = [s for s in hello.samples if not s.is_quantity]
    assert (digest.metric, digest.value, digest.unit, digest.metadata["seq"]) == ("score", "cd" * 32, "sha256", 3)
    assert [s.metric for s in hello.samples].count("teardown_s") == 1
    density = TrialRecord.from_json({**older, "workload": "density", "score": None, "score_unit": "", "ready_s": None,
                                     "samples": []})
    assert [(s.metric, s.value) for s in density.samples] == [("density_teardown_s", 0.5)]
    assert density.teardown_s == 0.5 and density.score is None


def test_a_line_cut_short_by_a_crash_is_dropped_and_appends_go_on(run: RunDir) -> None:
    run.append(record(1, "native", 100.0))
    with (run.path / "trials.jsonl").open("a") as f:
        f.write('{"run_id": "r", "seq": 2, "platf')
    assert [r.seq for r in run.records()] == [1]
    run.drop_partial_line()
    run.append(record(2, "native", 101.0))
    assert [r.seq for r in run.records()] == [1, 2]


def test_a_damaged_line_in_the_middle_is_named(run: RunDir) -> None:
    run.append(record(1, "native", 100.0))
    with (run.path / "trials.jsonl").open("a") as f:
        f.write("garbage\n")
    run.append(record(3, "native", 100.0))
    with pytest.raises(BenchError, match=r"trials.jsonl:2: not a trial record"):
        run.records()


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="not a run directory"):
        RunDir.open(tmp_path)
    (tmp_path / "run.json").write_text("{")
    with pytest.raises(BenchError, match="run.json: unreadable"):
        RunDir.open(tmp_path)


def test_resume_reruns_only_aborted_trials() -> None:
    records = [record(1, "native", 1.0), record(2, "vm", 1.0, status="failed"),
               record(3, "docker", 1.0, status="aborted")]
    assert finished_seqs(records) == {1, 2}
    rerun = record(3, "docker", 2.0)
    assert finished_seqs(records + [rerun]) == {1, 2, 3}
    assert current_records(records + [rerun])[-1] is rerun


def test_summary_counts_only_successful_measured_trials() -> None:
    records = [record(1, "native", 1000.0, warmup=True), record(2, "native", 100.0),
               record(3, "native", 102.0), record(4, "native", 98.0),
               record(5, "docker", 99.0), record(6, "docker", 97.0), record(7, "docker", 5.0, status="failed"),
               record(8, "vm", 50.0), record(9, "vm", 52.0)]
    table = summarise(records)
    assert [r.platform for r in table] == ["native", "docker", "vm"]
    native, docker, vm = table
    assert (native.n, native.median, native.ratio_to_native) == (3, 100.0, 1.0)
    assert (docker.n, docker.median) == (2, 98.0)
    assert docker.ratio_to_native == pytest.approx(0.98)
    assert docker.ratio_ci_low <= 0.98 <= docker.ratio_ci_high
    assert vm.accel == "tcg" and vm.ratio_to_native == pytest.approx(0.51)
    assert native.cv == pytest.approx(0.02)
    assert "vm-minimal/tcg" in table_text(table)


def test_a_metric_without_native_has_no_ratio(run: RunDir) -> None:
    table = summarise([record(1, "docker", 5.0, metric="instance_disk_mib")])
    assert math.isnan(table.rows[0].ratio_to_native) and not table.rows[0].has_ratio
    path = run.write_summary(table)
    assert list(pd.read_csv(path)["metric"]) == ["instance_disk_mib"]
    assert not [p for p in run.path.iterdir() if p.name.startswith(".vmctb-tmp")]


def test_the_printed_table_comes_from_summary_csv_as_written(run: RunDir) -> None:
    assert table_text(run.read_summary()) == "no successful measured trials"
    records = [record(1, "native", 100.0), record(2, "vm", 50.0), record(3, "vm", 52.0)]
    run.write_summary(summarise(records))
    printed = table_text(run.read_summary())
    assert printed.splitlines()[1].split()[:5] == ["cpu", "score", "native", "1", "100"]
    assert "vm-minimal/tcg" in printed and "0.51×" in printed


def test_no_ratio_to_a_native_value_that_is_not_positive() -> None:
    records = [record(1, "native", -0.5, metric="density_mem_mib"), record(2, "native", -0.4, metric="density_mem_mib"),
               record(3, "docker", 6.0, metric="density_mem_mib"), record(4, "docker", 6.5, metric="density_mem_mib")]
    docker = summarise(records).find("cpu", "density_mem_mib", "docker")
    assert docker is not None and not docker.has_ratio and math.isnan(docker.ratio_to_native)
    assert docker.median == 6.25
