"""Targets of the measurement core, measured with pytest-benchmark on real instances and
reported in its `extra_info` (not asserted: this host is shared, and a wall-clock target
would fail on a busy runner while the harness is fine):

- one memory-probe sample of a QEMU process and of a container's processes, and the share of
  one core the default sampling rate (4 Hz RSS, PSS every 4th) costs: target under 1%;
- READY latency: how long after the launcher writes READY the harness sees it: target median
  under 10 ms on native and docker (the warm-up trial left out);
- suite efficiency: time inside trials / wall time of `bench run`: target at least 0.9 on
  native + docker. The same run checks what noise cannot fake: that the CI of the container's
  CPU ratio to native reaches within 3% of 1.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from bench.definitions import workload as workloads
from bench.definitions.suite import Sampling
from bench.guest.protocol import READY
from bench.images import manifest as manifests
from bench.model.resources import allot
from bench.model.trial import TrialRecord
from bench.operations.accel import driver as make_driver
from bench.platforms.base import Instance, TrialContext
from bench.probes.memory import MemoryMonitor
from bench.progress import SILENT
from bench.run.trial import new_run_id, run_trial
from bench.rundir.results import RunDir
from tests.realhost import bench

SEQ = itertools.count(1)


@contextmanager
def running(platform: str) -> Iterator[Instance]:
    """An idle instance that has printed READY; removed afterwards."""
    driver = make_driver(platform, SILENT, allot(1, 512))
    ctx = TrialContext(new_run_id(), next(SEQ), workloads.load("idle"), manifests.load())
    instance = driver.prepare(ctx)
    try:
        instance.setup()
        instance.start()
        instance.console.wait_for(READY, 120)
        yield instance
    finally:
        instance.teardown()


@pytest.mark.parametrize("platform", ["docker", "vm"])
def test_memory_probe_cost(benchmark, platform: str, images: dict) -> None:
    sampling = Sampling()
    with running(platform) as instance:
        monitor = MemoryMonitor(instance.host_pids, guest_ram_bytes=instance.guest_ram_bytes)
        assert monitor.sample(full=False), "the probe found no process of the instance"
        started = time.perf_counter()
        for _ in range(40):
            monitor.sample(full=False)
        rss_cost = (time.perf_counter() - started) / 40
        benchmark.pedantic(monitor.sample, args=(True,), rounds=20, iterations=1)
        full_cost = benchmark.stats.stats.median
    per_second = sampling.hz / sampling.pss_every
    share = rss_cost * (sampling.hz - per_second) + full_cost * per_second
    benchmark.extra_info.update(rss_sample_ms=round(rss_cost * 1e3, 3), pss_sample_ms=round(full_cost * 1e3, 3),
                                core_share_at_default_rate=round(share, 5))
    benchmark.extra_info["core_share_target_met"] = share < 0.01
    print(f"\n{platform}: RSS sample {rss_cost * 1e3:.3f} ms, PSS sample {full_cost * 1e3:.3f} ms, "
          f"{share * 100:.3f}% of a core at {sampling.hz:g} Hz (target under 1%)")


@pytest.mark.parametrize("platform", ["native", "docker"])
def test_ready_latency(benchmark, platform: str, images: dict) -> None:
    driver = make_driver(platform, SILENT, allot(1, 512))
    manifest, boot = manifests.load(), workloads.load("boot")
    run_id, latencies = new_run_id(), []

    def one_trial() -> None:
        record = TrialRecord(run_id, next(SEQ), platform, "boot")
        run_trial(driver, TrialContext(run_id, record.seq, boot, manifest), record, 60)
        assert record.ok, record.reason
        latencies.append(record.ready_latency_s)

    benchmark.pedantic(one_trial, rounds=12, iterations=1, warmup_rounds=1)
    assert len(latencies) == 13
    measured = latencies[1:]  # pedantic runs the warm-up round first
    median = statistics.median(measured)
    benchmark.extra_info.update(ready_latency_median_ms=round(median * 1e3, 3),
                                ready_latency_max_ms=round(max(measured) * 1e3, 3),
                                ready_latency_target_met=median < 0.010)
    print(f"\n{platform}: READY seen {median * 1e3:.2f} ms (median) after it was written (target under 10 ms)")
    assert all(latency >= 0 for latency in measured)  # seen before written would be a clock bug


# No warm-up: a prime search has no cache to warm, and a warm-up trial counts in the
# efficiency no differently from a measured one.
SUITE = """\
name = "efficiency"
platforms = ["native", "docker"]
workloads = ["cpu"]
repetitions = 4
warmup = 0
seed = 5
"""


def test_suite_efficiency_and_container_cpu(benchmark, images: dict, tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    walls: list[float] = []

    def run_suite() -> None:
        started = time.perf_counter()
        # The suite's own time: the HTML report rendered afterwards is not part of it.
        proc = bench("run", str(suite), "--output-dir", str(tmp_path / "runs"), "--no-report")
        walls.append(time.perf_counter() - started)
        assert proc.returncode == 0, proc.stderr

    benchmark.pedantic(run_suite, rounds=1, iterations=1)
    (run_dir,) = (tmp_path / "runs").iterdir()
    records = RunDir.open(run_dir).records()
    efficiency = sum(r.duration_s for r in records) / walls[0]
    summary = pd.read_csv(run_dir / "summary.csv")
    score = summary[summary["metric"] == "score"].set_index("platform")
    ratio = score.loc["docker", "ratio_to_native"]
    low, high = score.loc["docker", "ratio_ci_low"], score.loc["docker", "ratio_ci_high"]
    benchmark.extra_info.update(suite_efficiency=round(efficiency, 4), docker_cpu_ratio=round(ratio, 4),
                                docker_cpu_ratio_ci=[round(low, 4), round(high, 4)])
    benchmark.extra_info["suite_efficiency_target_met"] = efficiency >= 0.9
    print(f"\nsuite efficiency {efficiency:.3f} (target at least 0.9); "
          f"docker/native CPU score {ratio:.4f} [{low:.4f}, {high:.4f}]")
    assert 0 < efficiency <= 1  # trials inside the run cannot outlast it
    # One 10 s sysbench run varies by about 3% here (this host is itself a VM), so the ratio
    # cannot be pinned to ±3%, but its CI must reach into ±3% of native, or the container (or
    # the harness) really costs CPU. Four repetitions, not two (with two a bootstrap interval
    # failed a CI run on noise: docker/native 1.039 [1.032, 1.046]). Simulated at 3% noise per
    # trial with the ratio's interval (stats.ratio_ci), four repetitions fail an equal pair in
    # none of 400 runs and catch a 10% CPU cost 38% of the time, a 15% one 90%, a 20% one always.
    assert low <= 1.03 and high >= 0.97
