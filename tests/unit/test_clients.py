"""Server workloads: the [client] table, and the host client's output parsed into metrics, from
redis-benchmark 7.0.15 output captured on this host (fixtures/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import PROJECT_ROOT
from bench.definitions import workload
from bench.definitions.workload import ScoreError
from bench.errors import BenchError
from bench.net import clients
from tests.conftest import write_workload

FIXTURES = Path(__file__).parent / "fixtures"
REDIS = workload.load("redis", PROJECT_ROOT / "workloads")

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
suffix = "c"

[metrics.get_ops_s]
regex = '^"GET","([0-9.]+)"'
unit = "ops/s"
better = "higher"
"""


def test_each_client_run_gives_its_own_metrics_from_real_redis_benchmark_output() -> None:
    output = (FIXTURES / "redis-benchmark-7.0.15-c10.csv").read_text()
    found = {name: value for name, value, _ in clients.figures(REDIS, [clients.ClientRun(10, output, 1.0)])}
    assert found == {"get_ops_s_c10": 75757.58, "get_p50_ms_c10": 0.071, "get_p99_ms_c10": 0.167,
                     "set_ops_s_c10": 73800.74, "set_p50_ms_c10": 0.079, "set_p99_ms_c10": 0.263}
    assert REDIS.headline_metric == "get_ops_s_c1"
    assert REDIS.client is not None and REDIS.client.argv(REDIS.client.command, "127.0.0.1", 50)[-3:] == \
        ["-c", "50", "--csv"]


def test_client_output_that_does_not_parse_names_the_metric_and_the_output() -> None:
    with pytest.raises(ScoreError) as err:
        clients.figures(REDIS, [clients.ClientRun(50, "Could not connect to Redis at 127.0.0.1:6379\n", 0.1)])
    assert str(err.value).startswith("get_ops_s_c50: no match") and "Could not connect to Redis" in str(err.value)


def test_a_client_tool_the_host_lacks_is_one_line_naming_its_package(workloads_dir: Path) -> None:
    write_workload(workloads_dir, "srv", SERVED.format(name="srv").replace('"redis-benchmark" = "redis-tools"',
                                                                           '"no-such-bench-tool" = "some-package"')
                   .replace('["redis-benchmark"', '["no-such-bench-tool"'))
    with pytest.raises(BenchError) as err:
        clients.require([workload.load("srv")], [("native", "srv")])
    assert str(err.value) == ("srv: the client needs no-such-bench-tool (Debian package some-package; "
                              "`make setup` installs it)")


def test_a_server_workload_on_a_platform_that_does_not_serve_it_yet_is_refused() -> None:
    with pytest.raises(BenchError, match="redis: a server workload runs on native, docker, docker-app, docker-hostnet, vm only so far, not gvisor"):
        clients.require([REDIS], [("native", "redis"), ("gvisor", "redis")])


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('values = [1, 50]', 'values = ["many"]'), "client.values: must be a non-empty list of whole numbers"),
    (lambda t: t.replace('values = [1, 50]', 'values = []'), "client.values: must be a non-empty list"),
    (lambda t: t.replace('"{value}", "--csv"]', '"{value}", 5]'), "client.command: must be a list of non-empty strings"),
    (lambda t: t.replace('command = ["redis-benchmark", "-h", "{address}"', 'command = ["ab", "-h", "{address}"'),
     "client.command: runs 'ab', which [client.tools] does not name"),
    (lambda t: t.replace('ready = ["redis-cli", "-h", "{address}", "ping"]', 'ready = ["redis-cli", "ping"]'),
     "client.ready: must connect to {address}"),
    (lambda t: t.replace('suffix = "c"\n', ''), "client.suffix: several values need a suffix"),
    (lambda t: t.replace('port = 6379', 'port = 70000'), "client.port: 70000 is not a TCP port"),
    (lambda t: t.replace('network = true\n', ''), "client: a server workload needs `network = true`"),
    (lambda t: t.replace('port = 6379', 'port = 6379\nretries = 3'), "client.retries: unknown key"),
])
def test_an_invalid_client_table_names_the_file_and_key(workloads_dir: Path, edit, message: str) -> None:
    path = write_workload(workloads_dir, "srv", edit(SERVED.format(name="srv")))
    with pytest.raises(BenchError) as err:
        workload.load("srv")
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
