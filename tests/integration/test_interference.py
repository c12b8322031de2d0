"""Noisy neighbours for real: a victim beside a neighbour of its own platform running a CPU hog
and a fork bomb, on native (two cgroups) and docker; the host's process count watched while
the bomb runs; SIGINT during a stress leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from bench import config
from bench.host import engines
from bench.model.resources import PIDS_MAX
from bench.operations import cleanup
from bench.report import neighbours
from bench.rundir.results import RunDir
from bench.rundir.runs import load as load_run
from tests.browser import open_page
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench, with_stresses

SUITE = """\
name = "it-interference"
platforms = ["native", "docker"]
workloads = ["noisy-randread"]
repetitions = 1
warmup = 0
seed = 26
seconds = 1  # the victim's measured part: its 1 s ramp, then 1 s
"""
# The host's other processes come and go (docker's shims, the harness's own children): beyond
# the neighbour's limit, this many more may appear at once without the bound being broken.
HOST_MARGIN = 300


class HostProcessWatch:
    """The host's process count, sampled from a thread: the most seen above the count at start."""

    def __init__(self) -> None:
        self.baseline, self.peak = len(psutil.pids()), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, len(psutil.pids()) - self.baseline)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _workloads(tmp_path: Path, stresses: list[str]) -> dict[str, str]:
    return with_stresses(tmp_path / "workloads", "noisy-randread", stresses)


def test_a_cpu_hog_and_a_fork_bomb_beside_a_victim_on_native_and_docker(tmp_path: Path, images: dict) -> None:
    env = _workloads(tmp_path, ["stress-cpu", "stress-fork"])
    watch = HostProcessWatch()
    try:
        proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"),
                     "--no-report", env=env)
    finally:
        peak = watch.stop()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "runs")
    records = {r.platform: r for r in RunDir.open(run_dir).records()}
    assert set(records) == {"native", "docker"} and all(r.ok for r in records.values())
    for platform, record in records.items():
        found = {(s.metric, s.dimensions.get("stress", "alone")): s.value for s in record.samples}
        assert record.facts["conditions"].split() == ["alone", "cpu", "fork"], record.facts["conditions"]
        assert record.facts["victim"] == "randread" and record.facts["pids_max"] == str(PIDS_MAX)
        for condition in ("cpu", "fork"):
            assert found[("victim_completed", condition)] == 1.0, (platform, condition)
            assert found[("neighbour_alive", condition)] == 1.0, (platform, condition)
            assert found[("randread_iops", condition)] > 0
        # The bomb's processes, as the host saw them in the neighbour, stay within its limit.
        assert 0 < found[("neighbour_procs_peak", "fork")] <= PIDS_MAX
        print(f"\n{platform}: randread {found[('randread_iops', 'alone')]:.0f} IOPS alone, "
              f"{found[('randread_iops', 'cpu')]:.0f} beside cpu, {found[('randread_iops', 'fork')]:.0f} beside fork; "
              f"the bomb's peak {found[('neighbour_procs_peak', 'fork')]:.0f} processes")
    assert records["native"].facts["pids_limit"].startswith(f"pids limit {PIDS_MAX} (cgroup")
    print(f"host processes: at most {peak} above the {watch.baseline} at the start")
    assert peak < PIDS_MAX + HOST_MARGIN
    section = neighbours.section(load_run(run_dir))
    assert section is not None and {m.metric for m in section.matrices} == {"randread_iops", "randread_p99_us"}
    assert [stress for stress, _ in section.matrices[0].rows] == ["cpu", "fork"]
    assert all(cell.main not in ("—", "DNR") for m in section.matrices for _, cells in m.rows for cell in cells)
    assert "Noisy neighbours:\nnoisy-randread (randread_iops), worst case per platform: " in proc.stdout
    rendered = bench("report", str(run_dir))
    assert rendered.returncode == 0, rendered.stderr
    seen = open_page(run_dir / "index.html", ("neighbours",), tmp_path / "page.png")
    assert seen.visible == {"neighbours": True} and seen.console_errors == seen.page_errors == []
    assert cleanup.leftovers() == []


def test_sigint_during_a_stress_leaves_nothing(tmp_path: Path, images: dict) -> None:
    env = _workloads(tmp_path, ["stress-cpu"])
    suite = write_suite(tmp_path, text=SUITE.replace('["native", "docker"]', '["docker"]'))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--output-dir", str(tmp_path / "runs")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    client = engines.docker_client()

    def pair_running() -> bool:  # two at once: a neighbour and the victim beside it (alone, there is one)
        return len(client.containers.list(filters={"label": config.RUN_LABEL})) >= 2

    deadline = time.monotonic() + 180
    while not pair_running() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pair_running(), "no victim beside a running neighbour seen"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert cleanup.leftovers() == []
    assert client.containers.list(all=True, filters={"label": config.RUN_LABEL}) == []
    record = RunDir.open(only_run_dir(tmp_path / "runs")).records()[-1]
    assert record.status == "aborted" and record.reason == "interrupted"
