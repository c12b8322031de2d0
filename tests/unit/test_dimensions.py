"""Dimensions, not names: a figure's conditions (a client's count, a neighbour's stress) ride
beside its metric from the sample to the summary, and older files whose names held them are read
as if they had been written today."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.definitions import legacy_names
from bench.errors import BenchError
from bench.history import schema
from bench.model import legacy
from bench.model.sample import SampleSink, dimensions_order, dimensions_text, parse_dimensions
from bench.model.series import SeriesKey
from bench.model.trial import FORMAT, TrialRecord
from bench.rundir import runs
from bench.rundir.results import RunDir
from tests.unit.synthetic_runs import write_run


def test_dimensions_are_sorted_text_and_come_back_out() -> None:
    assert dimensions_text({"stress": "fork", "clients": 10}) == "clients=10;stress=fork"
    assert dimensions_text({}) == ""
    assert parse_dimensions("stress=fork;clients=10") == {"clients": "10", "stress": "fork"}
    assert parse_dimensions("") == {}
    with pytest.raises(ValueError, match="'clients' is not name=value"):
        parse_dimensions("clients")
    assert sorted(["clients=10", "clients=8", "clients=1"], key=dimensions_order) == ["clients=1", "clients=8",
                                                                                      "clients=10"]


def test_a_series_is_keyed_by_its_dimensions_and_named_with_them() -> None:
    sink = SampleSink("docker", "redis", "none", {"seq": 1})
    sink.add("get_ops_s", 100.0, "ops/s", "higher", {"clients": 10})
    sink.add("get_ops_s", 200.0, "ops/s", "higher", {"clients": 50})
    one, fifty = (SeriesKey.of(s) for s in sink.samples)
    assert one != fifty and one.metric == fifty.metric == "get_ops_s"
    assert one.dimensions == "clients=10" and one.dimension_map == {"clients": "10"}
    assert one.name == "redis get_ops_s at clients=10 on docker"
    assert one.identity == ("redis", "docker", "none", "get_ops_s", "clients=10")


@pytest.mark.parametrize("old, suffixes, expected", [
    ("get_ops_s_c10", legacy.DEFAULT_SUFFIXES, ("get_ops_s", {"clients": "10"})),
    ("small_req_s_c25", {"c": "connections"}, ("small_req_s", {"connections": "25"})),
    ("score__fork", legacy.DEFAULT_SUFFIXES, ("score", {"stress": "fork"})),
    ("get_ops_s_c10__cpu", legacy.DEFAULT_SUFFIXES, ("get_ops_s", {"clients": "10", "stress": "cpu"})),
    ("boot_phase.ready_s", legacy.DEFAULT_SUFFIXES, ("boot_phase.ready_s", {})),
    ("mem_pss_mean_mib", legacy.DEFAULT_SUFFIXES, ("mem_pss_mean_mib", {})),
    ("read_iops_4k", legacy.DEFAULT_SUFFIXES, ("read_iops_4k", {})),  # a suffix no client used
])
def test_an_older_name_is_split_into_its_metric_and_dimensions(old: str, suffixes: dict, expected: tuple) -> None:
    assert legacy.split(old, suffixes) == expected


def test_a_known_workload_says_what_its_suffix_counted_and_the_platform_its_path() -> None:
    rename = legacy_names.renamer()
    assert rename("nginx", "docker", "small_req_s_c25") == ("small_req_s", {"connections": "25", "path": "dnat"})
    assert rename("postgres", "vm", "tps_c8") == ("tps", {"clients": "8", "path": "tap"})
    assert rename("noisy-redis", "lxc", "get_ops_s_c10__fork") == (
        "get_ops_s", {"clients": "10", "path": "bridge", "stress": "fork"})
    assert rename("redis", "docker-hostnet", "get_ops_s_c1") == ("get_ops_s", {"clients": "1", "path": "host"})
    assert rename("nginx", "docker", "boot_s") == ("boot_s", {})  # not the client's figure: no path
    assert rename("noisy-cpu", "docker", "score__fork") == ("score", {"stress": "fork"})
    # Unknown: a suffix c is read as clients, the path is the platform's.
    assert rename("not-a-workload", "native", "req_s_c4") == ("req_s", {"clients": "4", "path": "host"})


def format_one_line(metric: str, facts: dict[str, str]) -> dict:
    """A trials.jsonl line as vmct-bench wrote it before lines carried a format."""
    return {"run_id": "r", "seq": 1, "platform": "docker", "workload": "nginx", "status": "ok", "accel": "none",
            "facts": facts, "samples": [{"metric": metric, "value": 9000.0, "unit": "req/s", "better": "higher",
                                         "platform": "docker", "workload": "nginx", "accel": "none",
                                         "metadata": {"seq": 1}}]}


def test_a_line_without_a_format_has_its_names_split_by_its_own_client_fact() -> None:
    facts = {"client_values": "c=connections",
             "network_path": "Docker's default bridge docker0 (172.17.0.0/16): a veth pair; the host at 172.17.0.1; "
                             "the server's port 80 published (-p) at 172.17.0.1:40000"}
    line = format_one_line("small_req_s_c25", facts)
    line["samples"][0]["metadata"]["probe"] = "parsed from the host client's output (nginx/workload.toml [client])"
    record = TrialRecord.from_json(line)
    (sample,) = record.samples
    assert (sample.metric, sample.dimensions, record.format) == (
        "small_req_s", {"connections": "25", "path": "dnat"}, FORMAT)
    assert record.to_json()["format"] == FORMAT  # rewritten (a resumed run), it is a line of today
    again = TrialRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert again.samples == record.samples


def test_a_line_of_a_newer_format_is_refused_in_one_line_naming_it(tmp_path: Path) -> None:
    run = RunDir.open(write_run(tmp_path, "r1", {("cpu", "native", "score"): [1.0]}))
    line = json.loads((run.path / "trials.jsonl").read_text().splitlines()[0])
    (run.path / "trials.jsonl").write_text(json.dumps({**line, "format": FORMAT + 1}) + "\n")
    with pytest.raises(BenchError) as err:
        run.records()
    assert str(err.value) == (f"{run.path / 'trials.jsonl'}:1: not a trial record: its format {FORMAT + 1} is not one "
                              f"this vmct-bench reads (up to {FORMAT}): written by a newer one?")


def test_the_summary_keeps_each_client_count_and_path_apart_with_its_own_ratio_to_native(tmp_path: Path) -> None:
    """Native's loopback is the baseline of docker's figures on both of its paths."""
    values = {("redis", "native", "get_ops_s@clients=1;path=host"): [10000.0, 10100.0, 9900.0],
              ("redis", "docker", "get_ops_s@clients=1;path=dnat"): [8000.0, 8080.0, 7920.0],
              ("redis", "docker", "get_ops_s@clients=1;path=proxy"): [6000.0, 6060.0, 5940.0],
              ("redis", "native", "get_ops_s@clients=50;path=host"): [60000.0, 60600.0, 59400.0],
              ("redis", "docker", "get_ops_s@clients=50;path=dnat"): [30000.0, 30300.0, 29700.0]}
    path = write_run(tmp_path, "r1", values, kinds={"get_ops_s": ("ops/s", "higher")})
    summary = runs.load(path).summary
    assert {r.metric for r in summary} == {"get_ops_s"}
    rows = {(r.platform, r.dimensions): r.ratio_to_native for r in summary}
    assert rows[("docker", "clients=1;path=dnat")] == pytest.approx(0.8)
    assert rows[("docker", "clients=1;path=proxy")] == pytest.approx(0.6)
    assert rows[("docker", "clients=50;path=dnat")] == pytest.approx(0.5)
    # summary.csv as written and read back: an empty dimensions field is "", never NaN.
    run = RunDir.open(path)
    run.write_summary(summary)
    assert [r.key for r in run.read_summary()] == [r.key for r in summary]


# A real run made by vmct-bench before metrics had dimensions (the suite beside it: redis at 1 and
# 10 clients, noisy-cpu beside its seven stresses, boot; native and docker), and the history that
# vmct-bench made of it (schema 2), both kept as they were written.
PRE = Path(__file__).parent / "fixtures" / "pre-dimensions"
PRE_RUN = PRE / "20261207-034640-1140"


def a_run_after(root: Path) -> Path:
    """A run of today's format on the same host: redis GET at 1 client, cpu beside fork, boot."""
    host = json.loads((PRE_RUN / "run.json").read_text())["host"]
    values = {("redis", "native", "get_ops_s@clients=1;path=host"): [7000.0],
              ("noisy-cpu", "native", "score@stress=fork"): [900.0],
              ("boot", "docker", "boot_s"): [0.4]}
    return write_run(root, "after-1", values, host=host, started_at="2026-12-08T10:00:00+0000",
                     kinds={"get_ops_s": ("ops/s", "higher"), "score": ("events/s", "higher")})


def history_series(db: Path) -> dict[tuple[str, ...], int]:
    """(workload, platform, metric, dimensions) → how many runs have a point of it."""
    with sqlite3.connect(db) as conn:
        return dict(((w, p, m, d), n) for w, p, m, d, n in conn.execute(
            "SELECT s.workload, s.platform, s.metric, s.dimensions, COUNT(p.run_id) FROM series s "
            "LEFT JOIN points p ON p.series_id = s.id GROUP BY s.id"))


def test_the_pre_change_run_reads_with_its_dimensions() -> None:
    loaded = runs.load(PRE_RUN)
    assert all(r.format == FORMAT for r in loaded.records)
    keys = set(loaded.values)
    assert {(k.workload, k.metric, k.dimensions) for k in keys if k.platform == "native" and k.workload != "boot"} >= {
        ("redis", "get_ops_s", "clients=1;path=host"), ("redis", "get_ops_s", "clients=10;path=host"),
        ("noisy-cpu", "score", ""), ("noisy-cpu", "score", "stress=fork"), ("noisy-cpu", "victim_completed", "stress=net")}
    assert {k.dimensions for k in keys if (k.workload, k.platform, k.metric) == ("redis", "docker", "get_ops_s")} == {
        "clients=1;path=dnat", "clients=10;path=dnat"}
    assert not any("_c1" in k.metric or "__" in k.metric for k in keys)


def test_history_add_of_a_run_before_the_change_and_one_after_continues_the_same_series(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "history.sqlite"
    assert main(["-q", "history", "add", str(PRE_RUN), str(a_run_after(tmp_path / "runs")), "--db", str(db)]) == 0
    found = history_series(db)
    assert found[("redis", "native", "get_ops_s", "clients=1;path=host")] == 2
    assert found[("noisy-cpu", "native", "score", "stress=fork")] == 2
    assert found[("boot", "docker", "boot_s", "")] == 2
    assert not any("_c1" in m or "__" in m for _, _, m, _ in found)


def test_a_history_of_schema_2_is_renamed_in_place_and_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    shutil.copyfile(PRE / "history-v2.sqlite", db)
    with sqlite3.connect(db) as conn:
        before = {i: (p, m) for i, p, m in conn.execute("SELECT id, platform, metric FROM series")}
        points_before = conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    assert main(["-q", "history", "add", str(a_run_after(tmp_path / "runs")), "--db", str(db)]) == 0
    with sqlite3.connect(db) as conn:
        after = {i: (m, d) for i, m, d in conn.execute("SELECT id, metric, dimensions FROM series")}
        assert [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")][-1] == schema.SCHEMA_VERSION
        assert conn.execute("SELECT COUNT(*) FROM points").fetchone()[0] == points_before + 3
    assert set(after) == set(before)  # the same series, under the same ids: no point moved
    by_old = {before[i]: after[i] for i in before}
    assert by_old[("docker", "get_ops_s_c10")] == ("get_ops_s", "clients=10;path=dnat")
    assert by_old[("native", "get_ops_s_c10")] == ("get_ops_s", "clients=10;path=host")
    assert by_old[("docker", "score__fork")] == ("score", "stress=fork")
    assert by_old[("native", "boot_s")] == ("boot_s", "")
    found = history_series(db)
    assert found[("redis", "native", "get_ops_s", "clients=1;path=host")] == 2
    assert found[("noisy-cpu", "native", "score", "stress=fork")] == 2
    # Opening it again changes nothing more.
    assert main(["-q", "history", "detect", "--db", str(db)]) == 0
    assert history_series(db) == found


def test_the_precision_rule_narrows_a_servers_figure_on_the_platforms_own_path() -> None:
    """Docker's client reaches the server twice, by DNAT then by its userland proxy: the rule
    reads the first, the platform's own, not both as if they were two trials."""
    from bench.run import precision

    sink = SampleSink("docker", "redis", "none", {"seq": 1})
    sink.add("get_ops_s", 8000.0, "ops/s", "higher", {"clients": 1, "path": "dnat"})
    sink.add("get_ops_s", 5000.0, "ops/s", "higher", {"clients": 1, "path": "proxy"})
    sink.add("get_ops_s", 30000.0, "ops/s", "higher", {"clients": 50, "path": "dnat"})
    record = TrialRecord("r", 1, "docker", "redis", status="ok", samples=sink.samples)
    assert precision.values([record], "docker", "redis", "get_ops_s", {"clients": "1"}) == [8000.0]
