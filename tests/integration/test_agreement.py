"""The harness's numbers agree with independent tools timing the same thing."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

import pandas as pd

from bench import config
from bench.run.resources import allot
from tests.realhost import bench

DOCKER_BOOT = """\
name = "docker-boot"
platforms = ["docker"]
workloads = ["boot"]
repetitions = 7
warmup = 1
"""


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
    proc = bench("run", str(suite), "--output-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = pd.read_csv(run_dir / "summary.csv")
    harness = summary[(summary["metric"] == "boot_s")].iloc[0]["median"]

    image, cpuset = images["container_image"]["sha256"], allot(1, 512).cpuset_text
    cli_boot_seconds(image, cpuset)  # warm-up, as the suite had
    independent = statistics.median(cli_boot_seconds(image, cpuset) for _ in range(7))
    print(f"\ncontainer boot: harness {harness:.3f} s, docker CLI {independent:.3f} s")
    assert abs(harness - independent) / independent < 0.15
