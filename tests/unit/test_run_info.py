"""run.json read as one typed RunInfo: a real file from before the format field reads whole and
writes back the same apart from the field; a newer format or a wrong field is one line, exit 2."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.errors import BenchError
from bench.host.facts import HostInfo
from bench.model.trial import PlannedTrial
from bench.rundir import info as run_info
from bench.rundir.info import FORMAT, RunInfo
from bench.rundir.results import RunDir

PRE_RUN = Path(__file__).parent / "fixtures" / "pre-dimensions" / "20261207-034640-1140"


def test_a_real_run_json_without_a_format_reads_typed_and_writes_back_the_same() -> None:
    written = json.loads((PRE_RUN / "run.json").read_text())
    assert "format" not in written  # made before the field
    info = RunDir.open(PRE_RUN).info()
    assert info.run_id == "20261207-034640-1140" and info.suite.name == written["suite"]["name"]
    assert info.plan[0] == PlannedTrial(**written["plan"][0]) and len(info.plan) == len(written["plan"])
    assert info.host.hostname == written["host"]["hostname"] and info.host.logical_cpus >= 1
    assert info.harness.commit == written["harness"]["commit"]
    assert info.image_key == written["images"]["key"] and info.precision is None
    assert info.as_written() == {**written, "format": FORMAT}


def test_the_host_facts_an_older_run_did_not_record_read_as_unknown() -> None:
    full = json.loads((PRE_RUN / "run.json").read_text())["host"]
    assert set(full) == {f.name for f in fields(HostInfo)}  # every fact the harness records today
    assert HostInfo.from_json(full).to_json() == full
    older = HostInfo.from_json({"hostname": "lab1", "memory_bytes": 2**34})
    assert (older.hostname, older.memory_bytes, older.kernel, older.cpu_flags) == ("lab1", 2**34, "?", [])


def test_what_a_run_learns_as_it_goes_round_trips(tmp_path: Path) -> None:
    info = RunDir.open(PRE_RUN).info()
    info.precision = {"docker/cpu": run_info.PrecisionStop("docker", "cpu", "score", 5, None, 0.03, True, False,
                                                            "cap", "")}
    info.engines_memory = {"docker": {"pss_mib": 126.9}}
    info.resumed.append(run_info.Resumption("2026-12-07T06:00:00+0000", "bench run --resume x"))
    run = RunDir(tmp_path)
    assert run.write_info(info) == info == run.info()


@pytest.mark.parametrize(("change", "message"), [
    ({"format": FORMAT + 1}, f"format {FORMAT + 1} is newer than this harness reads ({FORMAT}); update vmct-bench"),
    ({"plan": [{"seq": 1}]}, "missing 4 required positional arguments"),
    ({"suite": ["native"]}, "suite is not a table"),
    ({"run_id": ""}, "no run_id"),
])
def test_a_run_json_it_cannot_read_is_one_line_naming_the_file(tmp_path: Path, change: dict, message: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(PRE_RUN, run)
    data = {**json.loads((run / "run.json").read_text()), **change}
    (run / "run.json").write_text(json.dumps(data))
    with pytest.raises(BenchError, match="run.json: not a run description: "):
        RunDir.open(run)
    assert main(["-q", "report", str(run), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and str(run / "run.json") in err
    assert not (tmp_path / "r.html").exists()


def test_this_format_and_the_one_before_it_are_read_and_written_as_this_one() -> None:
    data = json.loads((PRE_RUN / "run.json").read_text())
    assert RunInfo.from_json({**data, "format": FORMAT}).run_id == data["run_id"]
    assert RunInfo.from_json({**data, "format": 1}).as_written()["format"] == FORMAT
