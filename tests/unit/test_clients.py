"""Server workloads: the [client] table, and the host client's output parsed into metrics, from
redis-benchmark 7.0.15, wrk 4.1.0 and pgbench 15 output captured on this host (fixtures/)."""

from __future__ import annotations

from pathlib import Path

import os
import stat
import time

import pytest

from bench.config import PROJECT_ROOT
from bench.definitions import workload
from bench.definitions.workload import HostClient, Score, ScoreError
from bench.errors import BenchError
from bench.net import clients
from tests.conftest import write_workload

FIXTURES = Path(__file__).parent / "fixtures"
REDIS = workload.load("redis", PROJECT_ROOT / "workloads")
NGINX = workload.load("nginx", PROJECT_ROOT / "workloads")
POSTGRES = workload.load("postgres", PROJECT_ROOT / "workloads")

SERVED = """\
name = "{name}"
description = "a server"
packages = ["redis-server"]
network = true
command = ["redis-server"]
timeout_s = 60
expected_s = 5

[client]
tools = {{ "redis-cli" = "redis-tools", "redis-benchmark" = "redis-tools" }}
port = 6379
ready = ["redis-cli", "-h", "{{address}}", "ping"]
command = ["redis-benchmark", "-h", "{{address}}", "-c", "{{value}}", "--csv"]
values = [1, 50]
parameter = "clients"

[metrics.get_ops_s]
regex = '^"GET","([0-9.]+)"'
unit = "ops/s"
better = "higher"
"""


def named(figures: list[clients.ClientFigure]) -> dict[str, float]:
    """metric@dimension → value: `get_ops_s@clients=10`."""
    return {f"{f.metric}@{';'.join(f'{k}={v}' for k, v in f.dimensions.items())}": f.value for f in figures}


def test_each_client_run_gives_its_own_metrics_from_real_redis_benchmark_output() -> None:
    output = (FIXTURES / "redis-benchmark-7.0.15-c10.csv").read_text()
    found = named(clients.figures(REDIS, [clients.ClientRun(10, output, 1.0)]))
    assert found == {"get_ops_s@clients=10": 75757.58, "get_p50_ms@clients=10": 0.071, "get_p99_ms@clients=10": 0.167,
                     "set_ops_s@clients=10": 73800.74, "set_p50_ms@clients=10": 0.079, "set_p99_ms@clients=10": 0.263}
    assert (REDIS.headline_metric, REDIS.headline_dimensions) == ("get_ops_s", {"clients": "1"})
    assert REDIS.client is not None and REDIS.client.argv(REDIS.client.command, "127.0.0.1", 50)[-3:] == \
        ["-c", "50", "--csv"]


@pytest.mark.parametrize("connections, expected", [
    # wrk prints each latency in its own unit (155.00us, 1.69ms) and the rate in binary units.
    (1, {"small_req_s": 5316.43, "small_mib_s": 22.06, "small_p50_ms": 0.155, "small_p99_ms": 2.54,
         "large_req_s": 521.98, "large_mib_s": 522.23, "large_p50_ms": 1.44, "large_p99_ms": 23.08}),
    (25, {"small_req_s": 9531.61, "small_mib_s": 39.55, "small_p50_ms": 1.69, "small_p99_ms": 7.5,
          "large_req_s": 667.89, "large_mib_s": 668.06, "large_p50_ms": 20.03, "large_p99_ms": 166.32}),
])
def test_real_wrk_output_of_both_files_gives_each_files_figures_in_one_unit(connections: int, expected: dict) -> None:
    output = (FIXTURES / f"wrk-4.1.0-c{connections}.txt").read_text()
    found = named(clients.figures(NGINX, [clients.ClientRun(connections, output, 1.0)]))
    assert found == pytest.approx({f"{k}@connections={connections}": v for k, v in expected.items()}, rel=1e-9)


def test_a_printed_unit_outside_the_units_table_is_a_score_error_naming_it() -> None:
    score = Score("ms", "lower", regex=r"latency ([0-9.]+)(\w+)", units=(("us", 0.001), ("ms", 1.0)))
    assert score.extract("latency 250us") == pytest.approx(0.25)
    with pytest.raises(ScoreError, match=r"^value 3ns is in a unit 'ns' not among us, ms$"):
        score.extract("latency 3ns")
    # The shipped patterns admit only the units their tables map: anything else is no match.
    output = (FIXTURES / "wrk-4.1.0-c1.txt").read_text().replace("22.06MB", "22.06TB")
    with pytest.raises(ScoreError, match="^small_mib_s at connections=1: no match"):
        clients.figures(NGINX, [clients.ClientRun(1, output, 1.0)])


def test_real_pgbench_output_gives_tps_mean_latency_and_the_p99_from_its_log() -> None:
    output = (FIXTURES / "pgbench-15-c8.txt").read_text()
    found = named(clients.figures(POSTGRES, [clients.ClientRun(8, output, 5.0)]))
    assert found == {"tps@clients=8": 9346.804962, "latency_mean_ms@clients=8": 0.856, "latency_p99_ms@clients=8": 3.048}


def fake_tool(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_p99_is_the_nearest_rank_percentile_of_the_transaction_log_and_the_scratch_goes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped command's own pipeline (the host's sh, awk and sort) over a log of 1000
    transactions of 1…1000 µs, written where pgbench writes it; `prepare` runs once first."""
    bin_dir, cache = tmp_path / "bin", tmp_path / "cache"
    bin_dir.mkdir()
    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    fake_tool(bin_dir, "pgbench", f"""\
if [ "$1" = "-i" ]; then echo prepared >> {tmp_path}/prepared; exit 0; fi
for arg; do case $arg in --log-prefix=*) prefix=${{arg#--log-prefix=}} ;; esac; done
seq 1000 | shuf --random-source=/dev/zero | awk '{{ print 0, NR, $1, 0, 0, 0 }}' > "$prefix.$$"
echo "$prefix" > {tmp_path}/scratch
cat {FIXTURES / "pgbench-15-c8.txt"} | grep -v 'latency p99'
""")
    assert POSTGRES.client is not None
    runs = clients.run_client(POSTGRES.client, "127.0.0.1", 5432, "vmctb-test-client")
    assert [r.value for r in runs] == [1, 8]
    assert (tmp_path / "prepared").read_text() == "prepared\n"
    found = named(clients.figures(POSTGRES, runs))
    assert found["latency_p99_ms@clients=1"] == found["latency_p99_ms@clients=8"] == 0.99  # the 990th of 1000
    assert "(1000 transactions logged)" in runs[0].output
    scratch = Path((tmp_path / "scratch").read_text().strip()).parent
    assert scratch.parent == cache and not scratch.exists()
    assert list(cache.iterdir()) == []


def test_client_output_that_does_not_parse_names_the_metric_and_the_output() -> None:
    with pytest.raises(ScoreError) as err:
        clients.figures(REDIS, [clients.ClientRun(50, "Could not connect to Redis at 127.0.0.1:6379\n", 0.1)])
    assert str(err.value).startswith("get_ops_s at clients=50: no match") and "Could not connect to Redis" in str(err.value)


def test_a_client_tool_the_host_lacks_is_one_line_naming_its_package(workloads_dir: Path) -> None:
    write_workload(workloads_dir, "srv", SERVED.format(name="srv").replace('"redis-benchmark" = "redis-tools"',
                                                                           '"no-such-bench-tool" = "some-package"')
                   .replace('["redis-benchmark"', '["no-such-bench-tool"'))
    with pytest.raises(BenchError) as err:
        clients.require([workload.load("srv")])
    assert str(err.value) == ("srv: the client needs no-such-bench-tool (Debian package some-package; "
                              "`make setup` installs it)")


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('values = [1, 50]', 'values = ["many"]'), "client.values: must be a non-empty list of whole numbers"),
    (lambda t: t.replace('values = [1, 50]', 'values = []'), "client.values: must be a non-empty list"),
    (lambda t: t.replace('"{value}", "--csv"]', '"{value}", 5]'), "client.command: must be a list of non-empty strings"),
    (lambda t: t.replace('command = ["redis-benchmark", "-h", "{address}"', 'command = ["ab", "-h", "{address}"'),
     "client.command: runs 'ab', which [client.tools] does not name"),
    (lambda t: t.replace('ready = ["redis-cli", "-h", "{address}", "ping"]', 'ready = ["redis-cli", "ping"]'),
     "client.ready: must connect to {address}"),
    (lambda t: t.replace('parameter = "clients"\n', ''), "client.parameter: several values need a parameter"),
    (lambda t: t.replace('parameter = "clients"', 'parameter = "Clients!"'), "client.parameter: 'Clients!' is not a dimension"),
    (lambda t: t.replace('port = 6379', 'port = 70000'), "client.port: 70000 is not a TCP port"),
    (lambda t: t.replace('network = true\n', ''), "client: a server workload needs `network = true`"),
    (lambda t: t.replace('port = 6379', 'port = 6379\nretries = 3'), "client.retries: unknown key"),
    (lambda t: t.replace('parameter = "clients"', 'parameter = "clients"\nprepare = ["ab", "{address}"]'),
     "client.prepare: runs 'ab', which [client.tools] does not name"),
    (lambda t: t.replace('better = "higher"', 'better = "higher"\nunits = { ms = 1.0 }'),
     "metrics.get_ops_s.regex: needs exactly two capture groups (the value, then its unit), has 1"),
    (lambda t: t.replace("unit = \"ops/s\"", 'unit = "ops/s"\nunits = {}'),
     "metrics.get_ops_s.units: must map each unit the tool prints to its factor"),
    (lambda t: t.replace('expected_s = 5', 'expected_s = 5\napp_paths = ["usr/share/x"]'),
     "app_paths: 'usr/share/x' is not an absolute path inside the image"),
])
def test_an_invalid_client_table_names_the_file_and_key(workloads_dir: Path, edit, message: str) -> None:
    path = write_workload(workloads_dir, "srv", edit(SERVED.format(name="srv")))
    with pytest.raises(BenchError) as err:
        workload.load("srv")
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)


def test_a_tool_without_version_option_is_recorded_by_its_debian_package() -> None:
    versions = clients.tool_versions([POSTGRES, REDIS])
    assert versions["redis-benchmark"].startswith("redis-benchmark 7.")
    assert versions["sh"].startswith("Debian package dash 0.5") and versions["awk"].startswith("Debian package mawk ")
    assert versions["pgbench"].startswith("pgbench (PostgreSQL) 15")


def test_a_ready_check_that_hangs_past_the_deadline_is_told_as_no_answer() -> None:
    """An attempt cut short by the trial's deadline (seen with 1 ms left) is the server's silence,
    not a client that failed."""
    hangs = HostClient({"sh": "dash"}, 1, ("sh", "-c", "sleep 5", "{address}"), ("true", "{address}"))
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="the server did not answer sh -c sleep 5 127.0.0.1 before the trial's"):
        clients.await_server(hangs, "127.0.0.1", None, "test-owner", time.monotonic() + 0.3, lambda: True)
    assert time.monotonic() - began < 5  # the hanging attempt was cut at the deadline


def test_a_workload_file_from_before_dimensions_still_loads(workloads_dir: Path) -> None:
    """`suffix` named the figures (get_ops_s_c10) before they had dimensions: read, no longer needed."""
    old = SERVED.format(name="old").replace('parameter = "clients"', 'suffix = "c"')
    write_workload(workloads_dir, "old", old)
    client = workload.load("old").client
    assert client is not None and client.dimensions(50) == {"value": "50"}
    both = SERVED.format(name="both").replace('parameter = "clients"', 'suffix = "c"\nparameter = "clients"')
    write_workload(workloads_dir, "both", both)
    assert workload.load("both").client.dimensions(50) == {"clients": "50"}  # type: ignore[union-attr]
