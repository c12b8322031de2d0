"""The harness's numbers agree with independent tools timing the same thing."""

from __future__ import annotations

import statistics
from collections.abc import Callable
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import docker

from bench import config
from bench.model.resources import allot
from bench.platforms.container import default_bridge
from bench.rundir.results import RunDir
from tests.agreement import Judgement, settled
from tests.realhost import bench

DOCKER_REDIS = """\
name = "docker-redis"
platforms = ["docker"]
workloads = ["redis"]
repetitions = 1
warmup = 0

[values.all]
redis = [10]
"""
DOCKER_BOOT = """\
name = "docker-boot"
platforms = ["docker"]
workloads = ["boot"]
repetitions = 1
warmup = 1
"""


def alternated(suite: Path, work: Path, metric: str, tool: Callable[[], float],
               dimensions: dict[str, str] | None = None) -> tuple[list[float], list[float], Judgement]:
    """Rounds of one harness run (its measured trial's `metric` at `dimensions`) then the tool, alternated so
    that both see the shared host in the same state, until the rounds decide."""
    harness: list[float] = []
    independent: list[float] = []
    while (judgement := settled(harness, independent)) is None:
        runs = work / f"runs{len(harness)}"
        proc = bench("run", str(suite), "--output-dir", str(runs), "--no-report")
        assert proc.returncode == 0, proc.stderr
        (run_dir,) = runs.iterdir()
        (value,) = [s.value for r in RunDir.open(run_dir).records() if not r.warmup
                    for s in r.samples if s.metric == metric and s.dimensions == (dimensions or {})]
        harness.append(value)
        independent.append(tool())
    return harness, independent, judgement


def created_epoch_s(created: str) -> float:
    """Docker's `Created` (RFC 3339, nanoseconds, UTC) as seconds since the epoch."""
    whole, _, fraction = created.rstrip("Z").partition(".")
    base = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return base + float(f"0.{fraction or '0'}")


def cli_boot_seconds(client: docker.DockerClient, image: str, cpuset: str, work: Path) -> float:
    """`docker run` of the same image, launcher and limits through Docker's own command-line
    client, timed from the container's `Created` stamp (dockerd sets it as the create begins,
    the event the harness's t0 stands just before) until the READY line reaches this process:
    the client's own start-up and its request come before that, and are no part of a boot."""
    cidfile = work / f"cid.{time.monotonic_ns()}"
    proc = subprocess.Popen(
        ["docker", "run", "--cidfile", str(cidfile), "--network", "none", "--security-opt", "no-new-privileges",
         "--cpuset-cpus", cpuset, "--cpus", "1", "--memory", "512m", "--memory-swap", "512m",
         "--label", f"{config.RUN_LABEL}=agreement", "--label", f"{config.LABEL}=instance",
         image, config.GUEST_LAUNCHER, "boot"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("@@BENCH READY "):
                ready = time.time()  # the same clock as dockerd's stamp: this host's
                break
        else:
            raise AssertionError("the container printed no READY line")
        container = cidfile.read_text().strip()
        return ready - created_epoch_s(client.api.inspect_container(container)["Created"])
    finally:
        proc.stdout.read()
        proc.wait(timeout=30)
        if cidfile.exists():
            client.api.remove_container(cidfile.read_text().strip(), force=True)


def test_container_boot_time_agrees_with_the_docker_cli(tmp_path: Path, images: dict) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(DOCKER_BOOT)
    image, cpuset = images["container_image"]["sha256"], allot(1, 512).cpuset_text
    client = docker.from_env()
    cli_boot_seconds(client, image, cpuset, tmp_path)  # warm-up, as each run has
    harness, independent, judgement = alternated(suite, tmp_path, "boot_s",
                                                 lambda: cli_boot_seconds(client, image, cpuset, tmp_path))
    print(f"\ncontainer boot: harness {statistics.median(harness):.3f} s, docker CLI from Created "
          f"{statistics.median(independent):.3f} s; {judgement}; "
          f"rounds: {' '.join(f'{h:.3f}/{c:.3f}' for h, c in zip(harness, independent))}")
    assert judgement.verdict != "disagree", judgement


def plain_redis_get_ops(client: docker.DockerClient, image: str, cpuset: str, bridge: str) -> float:
    """redis-benchmark, as the workload runs it at 10 clients, against the same image's redis
    run by plain `docker run -p` on the bridge's address (the path the harness publishes on)."""
    name = f"{config.NAME_PREFIX}agreement-redis-{time.monotonic_ns()}"
    subprocess.run(["docker", "run", "-d", "--name", name, "-p", f"{bridge}::6379", "--env", "BENCH_LISTEN=0.0.0.0",
                    "--security-opt", "no-new-privileges", "--cpuset-cpus", cpuset, "--cpus", "1", "--memory", "512m",
                    "--memory-swap", "512m", "--label", f"{config.RUN_LABEL}=agreement", "--label",
                    f"{config.LABEL}=instance", image, config.GUEST_LAUNCHER, "redis"],
                   check=True, capture_output=True, text=True)
    try:
        port = client.api.port(name, 6379)[0]["HostPort"]
        deadline = time.monotonic() + 60
        while subprocess.run(["redis-cli", "-h", bridge, "-p", port, "ping"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            assert time.monotonic() < deadline, "the plain container's redis never answered"
            time.sleep(0.1)
        out = subprocess.run(["redis-benchmark", "-h", bridge, "-p", port, "-t", "get,set", "-d", "50", "-r", "100000",
                              "-n", "20000", "-c", "10", "--csv"], check=True, capture_output=True, text=True).stdout
        (line,) = [line for line in out.splitlines() if line.startswith('"GET"')]
        return float(line.split(",")[1].strip('"'))
    finally:
        client.api.remove_container(name, force=True)


def test_docker_redis_throughput_agrees_with_redis_benchmark_against_a_plain_docker_run(
        tmp_path: Path, images: dict) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(DOCKER_REDIS)
    image, cpuset = images["container_image"]["sha256"], allot(1, 512).cpuset_text
    client = docker.from_env()
    bridge = default_bridge(client).host_address  # the host's address there, as the harness finds it
    harness, independent, judgement = alternated(suite, tmp_path, "get_ops_s",
                                                 lambda: plain_redis_get_ops(client, image, cpuset, bridge),
                                                 {"clients": "10", "path": "dnat"})
    print(f"\nredis GET ops/s at 10 clients: harness {statistics.median(harness):.0f}, plain docker run -p "
          f"{statistics.median(independent):.0f}; {judgement}; "
          f"rounds: {' '.join(f'{h:.0f}/{c:.0f}' for h, c in zip(harness, independent))}")
    assert judgement.verdict != "disagree", judgement
