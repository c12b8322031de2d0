"""Docker with other OCI runtimes, for real: gVisor (runsc) and crun run cpu, boot and idle
beside runc; a runtime the engine lacks stops a run before its first trial; SIGINT during a
gVisor trial leaves no container, no sandbox process and no cgroup."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.host import cleanup, engines
from bench.run.results import RunDir
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench

SUITE = """\
name = "it-runtimes"
platforms = ["docker", "docker:crun", "gvisor"]
workloads = ["boot", "cpu", "idle"]
repetitions = 1
warmup = 0
seed = 4
{extra}
"""


def runsc_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if any("runsc" in part for part in p.info["cmdline"] or [])]


def test_cpu_boot_and_idle_on_runc_crun_and_gvisor(tmp_path: Path, images: dict) -> None:
    proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    records = RunDir.open(only_run_dir(tmp_path / "runs")).records()
    assert {(r.platform, r.workload) for r in records if r.ok} == {
        (p, w) for p in ("docker", "docker:crun", "gvisor") for w in ("boot", "cpu", "idle")}
    by = {(r.platform, r.workload): r for r in records}
    kernels = {p: by[(p, "boot")].facts["isolation.kernel"] for p in ("docker", "docker:crun", "gvisor")}
    assert kernels["docker"] == kernels["docker:crun"] and kernels["docker"].startswith("the host's")
    assert kernels["gvisor"].startswith("gVisor's user-space kernel")
    assert [by[(p, "boot")].facts["runtime"].split()[0] for p in ("docker", "docker:crun", "gvisor")] == \
        ["runc", "crun", "runsc"]
    # gVisor's whole sandbox is summed: more than runc's container of the same idle workload.
    pss = {p: next(s.value for s in by[(p, "idle")].samples if s.metric == "mem_pss_mean_mib")
           for p in ("docker", "gvisor")}
    assert pss["gvisor"] > pss["docker"] > 0
    memory = next(s for s in by[("gvisor", "idle")].samples if s.metric == "mem_pss_mean_mib")
    assert "gVisor's Sentry sandbox, its gofer and their ptrace stubs" in memory.metadata["probe"]
    scores = {p: by[(p, "cpu")].score for p in ("docker", "docker:crun", "gvisor")}
    assert all(isinstance(v, float) and v > 0 for v in scores.values()), scores
    assert "docker:crun" in proc.stdout and "gvisor" in proc.stdout  # their rows in the summary


def test_a_runtime_the_engine_lacks_stops_the_run_before_any_trial(tmp_path: Path, images: dict) -> None:
    suite = write_suite(tmp_path, text=SUITE.replace('"docker:crun", "gvisor"', '"docker:no-such-runtime"'))
    proc = bench("run", str(suite), "--output-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("bench: error: platform docker:no-such-runtime: the Docker engine has no "
                                  "runtime 'no-such-runtime' (it has: ")
    assert not (tmp_path / "runs").exists()


def test_sigint_during_a_gvisor_trial_leaves_nothing(tmp_path: Path, images: dict) -> None:
    client = engines.docker_client()
    suite = write_suite(tmp_path, text=SUITE.replace('"docker", "docker:crun", "gvisor"', '"gvisor"')
                        .replace('"boot", "cpu", "idle"', '"idle"'))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--no-report",
                             "--output-dir", str(tmp_path / "runs")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (cleanup.leftover_containers(client) and runsc_processes()) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cleanup.leftover_containers(client) and runsc_processes(), "no gVisor sandbox seen while the run went on"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert cleanup.leftovers() == [] and cleanup.leftover_containers(client) == []
    assert runsc_processes() == []
    (record,) = RunDir.open(only_run_dir(tmp_path / "runs")).records()
    assert (record.platform, record.status, record.reason) == ("gvisor", "aborted", "interrupted")
    assert json.loads((only_run_dir(tmp_path / "runs") / "run.json").read_text())["suite"]["platforms"] == ["gvisor"]
