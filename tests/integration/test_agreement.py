"""The harness's numbers agree with independent tools timing the same thing."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

from bench import config
from bench.run.resources import allot
from bench.run.results import RunDir
from tests.realhost import bench

DOCKER_BOOT = """\
name = "docker-boot"
platforms = ["docker"]
workloads = ["boot"]
repetitions = 1
warmup = 1
"""
ROUNDS = 7


def cli_boot_seconds(image: str, cpuset: str) -> float:
    """`docker run` of the same image and launcher through Docker's own command-line client,
    timed from before the client starts until the READY line reaches this process."""
    started = time.monotonic()
    proc = subprocess.Popen(
        ["docker", "run", "--rm", "--network", "none", "--security-opt", "no-new-privileges",
         "--cpuset-cpus", cpuset, "--memory", "512m", "--label", f"{config.RUN_LABEL}=agreement",
         image, config.GUEST_LAUNCHER, "boot"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("@@BENCH READY "):
                return time.monotonic() - started
        raise AssertionError("the container printed no READY line")
    finally:
        proc.stdout.read()
        proc.wait(timeout=30)


def test_container_boot_time_agrees_with_the_docker_cli(tmp_path: Path, images: dict) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(DOCKER_BOOT)
    image, cpuset = images["container_image"]["sha256"], allot(1, 512).cpuset_text
    cli_boot_seconds(image, cpuset)  # warm-up, as each run has
    harness, independent = [], []
    for round_ in range(ROUNDS):  # alternated, so that both see the shared host in the same state
        runs = tmp_path / f"runs{round_}"
        proc = bench("run", str(suite), "--output-dir", str(runs), "--no-report")
        assert proc.returncode == 0, proc.stderr
        (run_dir,) = runs.iterdir()
        harness += [s.value for r in RunDir.open(run_dir).records() if not r.warmup
                    for s in r.samples if s.metric == "boot_s"]
        independent.append(cli_boot_seconds(image, cpuset))
    assert len(harness) == ROUNDS
    ours, theirs = statistics.median(harness), statistics.median(independent)
    print(f"\ncontainer boot: harness {ours:.3f} s, docker CLI {theirs:.3f} s")
    assert abs(ours - theirs) / theirs < 0.15
