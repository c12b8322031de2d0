"""Server workloads, real: redis-server from the one root filesystem served from a native
instance (loopback) and from containers (its port published on the bridge), redis-benchmark
from the host against it, and a run killed while that client runs."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pandas as pd
import psutil

from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench, leftovers

SERVED = """\
name = "it-apps"
platforms = ["native", "docker", "docker-app", "docker-hostnet", "vm"]
workloads = ["redis"]
repetitions = 1
warmup = 0
seed = 3
"""
NATIVE_REDIS = """\
name = "it-apps-kill"
platforms = ["native"]
workloads = ["redis"]
repetitions = 1
warmup = 0
seed = 3
"""


def clients_running() -> list[str]:
    """redis-benchmark processes, and coreutils' timeout over one."""
    return [" ".join(p.info["cmdline"]) for p in psutil.process_iter(["cmdline"])
            if "redis-benchmark" in (p.info["cmdline"] or [])[:4]]


def test_redis_served_from_native_and_containers_to_the_hosts_client(tmp_path: Path, images: dict) -> None:
    proc = bench("run", str(write_suite(tmp_path, text=SERVED)), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    summary = pd.read_csv(run_dir / "summary.csv").set_index(["platform", "metric"])
    ratios = {p: summary.loc[(p, "get_ops_s_c1"), "ratio_to_native"] for p in ("docker", "docker-hostnet", "vm")}
    print(f"\nGET ops/s at 1 client ÷ native: {ratios}")
    for platform in ("native", "docker", "docker-app", "docker-hostnet", "vm"):
        ops = {c: summary.loc[(platform, f"get_ops_s_c{c}"), "median"] for c in (1, 10, 50)}
        print(f"\n{platform} redis GET ops/s: {ops}; p99 at 50 clients "
              f"{summary.loc[(platform, 'get_p99_ms_c50'), 'median']} ms")
        assert all(summary.loc[(platform, f"{m}_c{c}"), "n"] == 1
                   for m in ("get_ops_s", "set_ops_s", "get_p99_ms") for c in (1, 10, 50))
        # One client waits a round trip per request; fifty keep the server busy: more operations/s.
        assert ops[50] > ops[1] > 0
        assert 0 < summary.loc[(platform, "get_p50_ms_c1"), "median"] <= summary.loc[(platform, "get_p99_ms_c1"), "median"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["versions"]["host clients"]["redis-benchmark"].startswith("redis-benchmark 7.")
    records = {r["platform"]: r for r in map(json.loads, (run_dir / "trials.jsonl").read_text().splitlines())}
    assert records["native"]["facts"]["network_path"].startswith("loopback")
    assert records["docker-hostnet"]["facts"]["network_path"].startswith("the host's network namespace")
    assert records["vm"]["facts"]["network_path"].startswith("libvirt network vmctb-")
    published = records["docker"]["facts"]
    assert " published (-p) at " in published["network_path"], published
    assert published["network_carrier"].startswith(("iptables DNAT", "docker-proxy")), published
    host_port = published["network_path"].rsplit(":", 1)[1]
    rules = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    assert f"--dport {host_port} " not in rules  # the published port's rule went with the container


def test_a_run_killed_while_its_client_runs_is_cleaned_by_bench_clean(tmp_path: Path, images: dict) -> None:
    proc = bench("run", str(write_suite(tmp_path, text=NATIVE_REDIS)), "--output-dir", str(tmp_path / "runs"),
                 "--no-report", env={"BENCH_KILL_AT": "1:client"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = leftovers()
    assert any(thing.startswith("host server") and thing.endswith("-client") for thing in left), left
    assert clients_running(), "the client should outlive the killed run until bench clean"
    cleaned = bench("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert leftovers() == [] and clients_running() == []
