from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.config import PROJECT_ROOT
from bench.definitions import workload
from bench.definitions.workload import Score, ScoreError
from bench.errors import BenchError
from tests.conftest import VALID_WORKLOAD, write_workload


def test_valid_workload_parses(workloads_dir: Path) -> None:
    write_workload(workloads_dir, "cpu2")
    w = workload.load("cpu2")
    assert w.name == "cpu2"
    assert w.packages == ("sysbench",)
    assert w.command == ("sysbench", "cpu", "run")
    assert w.timeout_s == 30.0
    assert w.score == Score("events/s", "higher", regex=r"events per second:\s*([0-9.]+)")


def test_shipped_workloads_parse() -> None:
    names = workload.available(PROJECT_ROOT / "workloads")
    assert {"hello", "cpu"} <= set(names)
    for name in names:
        assert workload.load(name, PROJECT_ROOT / "workloads").name == name


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('timeout_s = 30\n', ''), "timeout_s: missing"),
    (lambda t: t.replace('timeout_s = 30', 'timeout_s = -1'), "timeout_s: must be greater than 0"),
    (lambda t: t.replace('timeout_s = 30', 'timeout_s = "soon"'), "timeout_s: must be a number"),
    (lambda t: t.replace('better = "higher"', 'better = "up"'), "score.better: must be one of higher, lower, equal"),
    (lambda t: t.replace('command = ["sysbench", "cpu", "run"]', 'command = []'), "command: must not be empty"),
    (lambda t: t.replace('command = ["sysbench", "cpu", "run"]', 'command = "sysbench"'), "command: must be a list"),
    (lambda t: t.replace('"sysbench"]', '"Not_A_Package"]', 1), "packages: 'Not_A_Package' is not a Debian package name"),
    (lambda t: t + 'colour = "blue"\n', "score.colour: unknown key"),
    (lambda t: t.replace('timeout_s = 30', 'timeout_s = 30\ntimout = 3'), "timout: unknown key"),
    (lambda t: t.replace("([0-9.]+)", "[0-9.]+"), "score.regex: needs exactly one capture group, has 0"),
    (lambda t: t.replace("([0-9.]+)", "([0-9.]+"), "score.regex: invalid regular expression"),
    (lambda t: t.replace("unit =", 'json_field = "a.b"\nunit ='), "give exactly one of regex, json_field and json_path"),
    (lambda t: t.replace('expected_s = 5\n', ''), "expected_s: missing"),
    (lambda t: t.replace('expected_s = 5', 'expected_s = 5\nkind = "burst"'), "kind: must be one of single, density"),
    (lambda t: t.replace('expected_s = 5', 'expected_s = 5\nkind = "density"'), "kind: a density workload is measured by the harness's own probes"),
    (lambda t: t.replace('expected_s = 5', 'expected_s = 30'), "expected_s: 30 s leaves no room before timeout_s"),
    (lambda t: t + '[metrics.boot_s]\nregex = "(x)"\nunit = "s"\nbetter = "lower"\n', "metrics.boot_s: not a free metric name"),
    (lambda t: t + '[metrics.Read]\nregex = "(x)"\nunit = "s"\nbetter = "lower"\n', "metrics.Read: not a free metric name"),
    (lambda t: t + '[metrics.digest]\nregex = "(x)"\nunit = "x"\nbetter = "equal"\n', "metrics.digest.better: must be higher or lower"),
    (lambda t: t + '[metrics.iops]\njson_path = []\nunit = "IOPS"\nbetter = "higher"\n', "metrics.iops.json_path: must not be empty"),
    (lambda t: t + '[metrics.iops]\nunit = "IOPS"\nbetter = "higher"\n', "give exactly one of regex, json_field and json_path"),
    (lambda t: t.replace('name = "w"', 'name = "other"'), "name: is 'other' but the directory is 'w'"),
    (lambda t: t.replace("[score]", "[score"), "not valid TOML"),
])
def test_invalid_workload_names_the_file_and_key(workloads_dir: Path, edit, message: str) -> None:
    path = write_workload(workloads_dir, "w", edit(VALID_WORKLOAD.format(name="w")))
    with pytest.raises(BenchError) as err:
        workload.load("w")
    text = str(err.value)
    assert str(path) in text
    assert message in text
    assert "\n" not in text


def test_unknown_workload_lists_the_known_ones(workloads_dir: Path) -> None:
    write_workload(workloads_dir, "alpha")
    with pytest.raises(BenchError, match=r"unknown workload 'beta' \(known in .*: alpha\)"):
        workload.load("beta")


def test_path_like_names_are_not_workloads(workloads_dir: Path) -> None:
    with pytest.raises(BenchError, match="unknown workload"):
        workload.load("../workloads")


def test_selection_defaults_to_all_and_dedupes(workloads_dir: Path) -> None:
    write_workload(workloads_dir, "b")
    write_workload(workloads_dir, "a")
    assert [w.name for w in workload.load_selection(None)] == ["a", "b"]
    assert [w.name for w in workload.load_selection(["b", "b"])] == ["b"]


def test_empty_workloads_dir_is_an_error(workloads_dir: Path) -> None:
    with pytest.raises(BenchError, match="no workloads found"):
        workload.load_selection(None)


def test_guest_spec_ignores_host_side_fields(workloads_dir: Path) -> None:
    write_workload(workloads_dir, "a")
    before = workload.load("a").guest_spec()
    text = VALID_WORKLOAD.format(name="a").replace("timeout_s = 30", "timeout_s = 99")
    write_workload(workloads_dir, "a", text.replace("a test workload", "reworded"))
    assert workload.load("a").guest_spec() == before
    write_workload(workloads_dir, "a", text.replace('"run"]', '"run", "--time=5"]'))
    assert workload.load("a").guest_spec() != before


class TestScore:
    def test_regex_number(self) -> None:
        score = Score("events/s", "higher", regex=r"events per second:\s*([0-9.]+)")
        assert score.extract("CPU speed:\n    events per second:  3121.30\n") == 3121.30

    def test_regex_anchors_per_line(self) -> None:
        score = Score("sha256", "equal", regex=r"^([0-9a-f]{4})\s")
        assert score.extract("noise\nbeef  /file\n") == "beef"

    def test_equal_scores_stay_text(self) -> None:
        assert Score("v", "equal", regex=r"v=(\S+)").extract("v=007") == "007"

    def test_json_field_path(self) -> None:
        score = Score("IOPS", "higher", json_field="jobs.0.read.iops")
        assert score.extract('{"jobs": [{"read": {"iops": 1234.5}}]}') == 1234.5

    @pytest.mark.parametrize("score, output, message", [
        (Score("x", "higher", regex=r"v=(\d+)"), "nothing here", "no match"),
        (Score("x", "higher", regex=r"v=(\S+)"), "v=fast", "is not a number"),
        (Score("x", "higher", json_field="a.b"), "not json", "output is not JSON"),
        (Score("x", "higher", json_field="a.b"), '{"a": {"c": 1}}', "no field 'a.b'"),
        (Score("x", "higher", json_field="a.3"), '{"a": [1]}', "no field 'a.3'"),
    ])
    def test_missing_score_is_a_trial_failure(self, score: Score, output: str, message: str) -> None:
        with pytest.raises(ScoreError, match=message):
            score.extract(output)


def test_extra_metrics_read_from_json_keys_with_dots(workloads_dir: Path) -> None:
    text = VALID_WORKLOAD.format(name="w") + (
        '[metrics.p99_us]\njson_path = ["jobs", "0", "clat", "50.000000"]\nunit = "us"\nbetter = "lower"\n')
    write_workload(workloads_dir, "w", text)
    loaded = workload.load("w")
    assert loaded.expected_s == 5.0
    assert loaded.metrics["p99_us"].extract('{"jobs": [{"clat": {"50.000000": 12.5}}]}') == 12.5
    with pytest.raises(workload.ScoreError, match="no field 'jobs/0/clat/50.000000'"):
        loaded.metrics["p99_us"].extract('{"jobs": []}')


def test_a_measured_duration_is_filled_in_at_run_time_with_the_workloads_own_as_default(tmp_path: Path) -> None:
    """The launcher fills {seconds} from NAME@SECONDS, else the spec's own (test_image_programs
    runs it); the spec keeps the command as written."""
    cpu = workload.load("cpu")
    assert cpu.seconds == 10 and "{seconds}" in " ".join(cpu.command)
    spec = cpu.launcher_spec().text("cpu").splitlines()
    assert spec[:2] == ["user 990:990", "workdir /tmp"] and spec[-1] == "seconds 10"
    assert "arg --time={seconds}" in spec and "env LC_ALL=C" in spec
    assert "as-root" in workload.load("exposure").launcher_spec().text("exposure").splitlines()
    assert cpu.expected_for(2) == cpu.expected_s / 5 and cpu.expected_for(None) == cpu.expected_s
    assert workload.load("boot").expected_for(2) == workload.load("boot").expected_s  # no duration to cut


def test_seconds_and_its_placeholder_come_together(tmp_path: Path) -> None:
    path = tmp_path / "w" / "workload.toml"
    path.parent.mkdir()
    path.write_text('name = "w"\ndescription = "d"\ncommand = ["sleep", "{seconds}"]\ntimeout_s = 9\nexpected_s = 1\n')
    with pytest.raises(BenchError, match="seconds: is the measured duration the command's {seconds} stands for"):
        workload.parse_workload(path)
    path.write_text('name = "w"\ndescription = "d"\ncommand = ["sleep", "3"]\nseconds = 3\ntimeout_s = 9\nexpected_s = 1\n')
    with pytest.raises(BenchError, match="give both or neither"):
        workload.parse_workload(path)
