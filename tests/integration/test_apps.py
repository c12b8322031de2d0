"""Server workloads, real: redis-server, nginx and PostgreSQL from the one root filesystem served
from a native instance (loopback), from containers (a published port on the bridge, the host's
network namespace) and from a VM (its address on the run's network), each driven by its client
on the host; a run killed or interrupted while that client runs; a server that never answers."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench, leftovers, short_workloads

SERVED = """\
name = "it-apps"
platforms = ["native", "docker", "docker-app", "docker-hostnet", "vm"]
workloads = ["redis", "nginx", "postgres"]
repetitions = 1
warmup = 0
seed = 3

# docker-app: PostgreSQL's application-only image (its app_paths) is the one that needs proving.
[only]
docker-app = ["postgres"]

# Short client runs (SHORT_CLIENT_RUNS): redis at its extremes, one count each for nginx and
# PostgreSQL.
[values.all]
redis = [1, 50]
nginx = [25]
postgres = [8]
"""
ONE_REDIS = """\
name = "it-apps-one"
platforms = ["{platform}"]
workloads = ["redis"]
repetitions = 1
warmup = 0
seed = 3
"""
NEVER_ANSWERS = """\
name = "it-apps-mute"
platforms = ["native"]
workloads = ["idle", "hello"]
repetitions = 1
warmup = 0
seed = 3
"""
# idle's image (it sleeps), given a client whose server never comes: nothing listens on 6399.
MUTE_CLIENT = """
network = true

[client]
tools = { "redis-cli" = "redis-tools", "redis-benchmark" = "redis-tools" }
port = 6399
ready = ["redis-cli", "-h", "{address}", "-p", "{port}", "ping"]
ready_output = "PONG"
command = ["redis-benchmark", "-h", "{address}", "-p", "{port}", "-n", "10"]

[metrics.get_ops_s]
regex = '^"GET","([0-9.]+)"'
unit = "ops/s"
better = "higher"
"""


# Each client run about a second: a tenth of redis-benchmark's requests, wrk and pgbench for 1 s.
SHORT_CLIENT_RUNS = {"redis": (('"-n", "20000"', '"-n", "2000"'),), "nginx": (("-d 5s", "-d 1s"),),
                     "postgres": (("-T 5", "-T 1"),)}


def clients_running() -> list[str]:
    """Client processes (redis-benchmark, wrk, pgbench), and coreutils' timeout over one."""
    return [" ".join(p.info["cmdline"]) for p in psutil.process_iter(["cmdline"])
            if {"redis-benchmark", "wrk", "pgbench"} & set((p.info["cmdline"] or [])[:4])]


def test_each_app_is_served_from_native_containers_and_a_vm_to_the_hosts_client(tmp_path: Path, images: dict) -> None:
    proc = bench("run", str(write_suite(tmp_path, text=SERVED)), "--output-dir", str(tmp_path / "runs"), "--no-report",
                 env=short_workloads(tmp_path / "workloads", SHORT_CLIENT_RUNS))
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    summary = pd.read_csv(run_dir / "summary.csv", dtype={"dimensions": str}).fillna({"dimensions": ""})
    # No metric's name carries a dimension: the client's value is the dimensions column.
    assert not summary["metric"].str.contains(r"_c\d+$").any()
    summary["metric"] = [f"{m}@{d}" if d else m for m, d in zip(summary["metric"], summary["dimensions"])]
    summary = summary.set_index(["workload", "platform", "metric"])
    # The network path each platform's client took first: its own.
    own = {"native": "host", "docker": "dnat", "docker-app": "dnat", "docker-hostnet": "host", "vm": "tap"}

    def median(workload: str, platform: str, metric: str, path: str | None = None) -> float:
        at = f"{metric};path={path or own[platform]}" if "@" in metric else metric
        return float(summary.loc[(workload, platform, at), "median"])

    ratios = {f"{p} ({path})": summary.loc[("redis", p, f"get_ops_s@clients=1;path={path}"), "ratio_to_native"]
              for p, path in (("docker", "dnat"), ("docker", "proxy"), ("docker-hostnet", "host"), ("vm", "tap"))}
    print(f"\nredis GET ops/s at 1 client ÷ native: {ratios}")
    # Docker's published port, reached both ways users reach it: its DNAT rule (the bridge's
    # address) and, on 127.0.0.1, its userland proxy, which copies every byte through dockerd's
    # docker-proxy. 50 clients keep the server busy: there the proxy's copying shows most (0.34×
    # DNAT's rate by hand on this host); one client waits a round trip through it per request.
    dnat, proxy = (median("redis", "docker", "get_ops_s@clients=50", path) for path in ("dnat", "proxy"))
    assert 0 < proxy < dnat, (dnat, proxy)
    assert median("redis", "docker", "get_ops_s@clients=1", "proxy") > 0
    for platform in ("native", "docker", "docker-hostnet", "vm"):
        ops = {c: median("redis", platform, f"get_ops_s@clients={c}") for c in (1, 50)}
        assert all(summary.loc[("redis", platform, f"{m}@clients={c};path={own[platform]}"), "n"] == 1
                   for m in ("get_ops_s", "set_ops_s", "get_p99_ms") for c in (1, 50))
        # One client waits a round trip per request; fifty keep the server busy: more operations/s.
        assert ops[50] > ops[1] > 0, (platform, ops)
        assert 0 < median("redis", platform, "get_p50_ms@clients=1") <= median("redis", platform, "get_p99_ms@clients=1")
    for platform in ("native", "docker", "docker-hostnet", "vm"):
        small, large = median("nginx", platform, "small_req_s@connections=25"), median("nginx", platform, "large_req_s@connections=25")
        print(f"{platform}: nginx 4 KiB {small:.0f} req/s, 1 MiB {large:.0f} req/s; pgbench "
              f"{median('postgres', platform, 'tps@clients=8'):.0f} tx/s at 8 clients")
        assert small > large > 0
        # Each 1 MiB response is one MiB on the wire (plus headers): wrk's rate agrees with its count.
        assert 0.97 < median("nginx", platform, "large_mib_s@connections=25") / large < 1.05
        assert 0 < median("nginx", platform, "small_p50_ms@connections=25") <= median("nginx", platform, "small_p99_ms@connections=25")
        assert median("postgres", platform, "tps@clients=8") > 0
        assert 0 < median("postgres", platform, "latency_mean_ms@clients=8")
        assert 0 < median("postgres", platform, "latency_p99_ms@clients=8")
        assert ("nginx", platform, f"small_req_s@connections=1;path={own[platform]}") not in summary.index  # 25 only
        # The server answers only once it runs: after the instance's READY.
        assert median("postgres", platform, "server_ready_s") >= median("postgres", platform, "boot_s")
    assert median("postgres", "docker-app", "tps@clients=8") > 0  # initdb and the server from the app-only image
    info = json.loads((run_dir / "run.json").read_text())
    versions = info["versions"]["host clients"]
    assert versions["redis-benchmark"].startswith("redis-benchmark 7.") and versions["wrk"].startswith("Debian package wrk 4.1")
    assert versions["pgbench"].startswith("pgbench (PostgreSQL) 15")
    records = {(r["workload"], r["platform"]): r for r in map(json.loads, (run_dir / "trials.jsonl").read_text().splitlines())}
    assert all(r["status"] == "ok" for r in records.values()), [r["reason"] for r in records.values()]
    assert records[("redis", "native")]["facts"]["network_path"].startswith("loopback")
    assert records[("redis", "docker-hostnet")]["facts"]["network_path"].startswith("the host's network namespace")
    assert records[("postgres", "vm")]["facts"]["network_path"].startswith("libvirt network vmctb-")
    assert [s["dimensions"] for s in records[("nginx", "docker")]["samples"] if s["metric"] == "small_req_s"] == [
        {"connections": "25", "path": "dnat"}, {"connections": "25", "path": "proxy"}]
    assert records[("nginx", "docker")]["facts"]["network_proxy"].startswith("docker-proxy")
    published = records[("redis", "docker")]["facts"]
    assert " published (-p) at " in published["network_path"], published
    assert published["network_carrier"].startswith(("iptables DNAT", "docker-proxy")), published
    host_port = published["network_path"].rsplit(":", 1)[1]
    assert f"--dport {host_port} " not in nat_rules()  # the published port's rule went with the container


def test_a_run_killed_while_its_client_runs_is_cleaned_by_bench_clean(tmp_path: Path, images: dict) -> None:
    proc = bench("run", str(write_suite(tmp_path, text=ONE_REDIS.format(platform="native"))),
                 "--output-dir", str(tmp_path / "runs"), "--no-report", env={"BENCH_KILL_AT": "1:client"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = leftovers()
    assert any(thing.startswith("host server") and thing.endswith("-client") for thing in left), left
    assert clients_running(), "the client should outlive the killed run until bench clean"
    cleaned = bench("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert leftovers() == [] and clients_running() == []


def nat_rules(*chain: str) -> str:
    """The nat table's rules (`-w`: wait for the xtables lock rather than fail while dockerd holds it)."""
    listed = subprocess.run(["iptables", "-w", "-t", "nat", "-S", *chain], capture_output=True, text=True)
    assert listed.returncode == 0, f"iptables -t nat -S {' '.join(chain)}: {listed.stderr.strip()}"
    return listed.stdout


def docker_nat_rules() -> list[str]:
    return [r for r in nat_rules("DOCKER").splitlines() if re.search(r"--to-destination \S+:6379\b", r)]


def test_sigint_while_the_client_runs_leaves_no_container_client_or_port_rule(tmp_path: Path, images: dict) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(write_suite(tmp_path, text=ONE_REDIS.format(
        platform="docker"))), "--no-report", "--output-dir", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Both states, not the first client seen: a client of the test before may still be exiting.
        deadline = time.monotonic() + 120
        while not (clients_running() and docker_nat_rules()) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert clients_running(), "no client seen while the run went on"
        assert docker_nat_rules(), "the published port has no DNAT rule while its server runs:\n" + nat_rules()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # an assertion above failed: the run must not outlive this test
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                bench("clean")
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert leftovers() == [] and clients_running() == [] and docker_nat_rules() == []
    (record,) = RunDir.open(only_run_dir(tmp_path / "runs")).records()
    assert (record.platform, record.status, record.reason) == ("docker", "aborted", "interrupted")


def test_a_server_that_never_answers_fails_its_trial_within_the_timeout_and_the_run_goes_on(
        tmp_path: Path, images: dict) -> None:
    env = short_workloads(tmp_path / "workloads", {"idle": (("timeout_s = 150", "timeout_s = 12"),)})
    idle = tmp_path / "workloads" / "idle" / "workload.toml"
    # Its top-level keys before idle's own tables; a server's trial has no settled wait.
    idle.write_text(idle.read_text().split("\n[settle]")[0] + MUTE_CLIENT)
    began = time.monotonic()
    proc = bench("run", str(write_suite(tmp_path, text=NEVER_ANSWERS)), "--output-dir", str(tmp_path / "runs"),
                 "--no-report", env=env)
    assert proc.returncode == 1, proc.stderr
    records = {r.workload: r for r in RunDir.open(only_run_dir(tmp_path / "runs")).records()}
    mute = records["idle"]
    assert mute.status == "failed" and "did not answer" in mute.reason, mute.reason
    assert mute.console_tail and any("READY" in line for line in mute.console_tail), mute.console_tail
    assert records["hello"].status == "ok"
    assert time.monotonic() - began < 12 + 60
    assert clients_running() == []
