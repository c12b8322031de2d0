"""Other container platforms, for real: Docker with gVisor (runsc) and with crun, Podman and
LXC run cpu and boot beside runc, their memory read over the cpu trial; a runtime the engine lacks stops a run before its first
trial; SIGINT during a gVisor, a Podman or an LXC trial leaves no container, no sandbox, conmon
or lxc-start process and no cgroup; an LXC container a killed run left is stopped and removed
by `bench clean`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench import config
from bench.host import engines
from bench.images.manifest import load as load_manifest
from bench.operations import cleanup
from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench, require_platforms

SUITE = """\
name = "it-runtimes"
platforms = ["docker", "docker:crun", "gvisor", "podman", "lxc"]
workloads = ["boot", "cpu"]
repetitions = 1
warmup = 0
seed = 4
seconds = 2  # each runtime is shown running cpu, its memory read over it: 2 s of it, not 10
{extra}
"""


PLATFORMS = ("docker", "docker:crun", "gvisor", "podman", "lxc")
# What each platform runs on the host besides the workload: gVisor's sandbox, Podman's and LXC's monitors.
HOST_PROCESS = {"gvisor": "runsc", "podman": "conmon", "lxc": "lxc-start"}


def processes_of(platform: str, instances: set[str]) -> list[psutil.Process]:
    """The platform's host processes whose command line names one of `instances` (a name or id)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if HOST_PROCESS[platform] in line and any(instance in line for instance in instances):
            found.append(p)
    return found


def leftover_instances() -> set[str]:
    """The harness's containers now: Docker's by name and id, Podman's and LXC's by name."""
    from bench.platforms import lxc, podman

    docker_ones = cleanup.leftover_containers(engines.docker_client())
    return ({c.name for c in docker_ones} | {c.id for c in docker_ones} | set(podman.leftover_containers())
            | set(lxc.leftover_containers()))


def test_cpu_boot_and_memory_on_runc_crun_gvisor_podman_and_lxc(tmp_path: Path, images: dict) -> None:
    require_platforms("docker", "docker:crun", "gvisor", "podman", "lxc")
    proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    records = RunDir.open(only_run_dir(tmp_path / "runs")).records()
    assert {(r.platform, r.workload) for r in records if r.ok} == {
        (p, w) for p in PLATFORMS for w in ("boot", "cpu")}
    by = {(r.platform, r.workload): r for r in records}
    kernels = {p: by[(p, "boot")].facts["isolation.kernel"] for p in PLATFORMS}
    assert kernels["docker"] == kernels["docker:crun"] == kernels["podman"] == kernels["lxc"]
    assert kernels["docker"].startswith("the host's")
    assert kernels["gvisor"].startswith("gVisor's user-space kernel")
    assert [by[(p, "boot")].facts["runtime"].split()[0] for p in PLATFORMS] == ["runc", "crun", "runsc", "podman", "LXC"]
    assert by[("podman", "boot")].facts["network"] == "none" and "created" in by[("podman", "boot")].phases_s
    memory = next(s for s in by[("podman", "cpu")].samples if s.metric == "mem_pss_mean_mib")
    assert "conmon and every process in the container's cgroup" in memory.metadata["probe"] and memory.value > 0
    # gVisor's whole sandbox is summed: more than runc's container of the same workload. (Read over
    # the cpu trial, as the idle workload's would be: the memory probe runs in every trial.)
    pss = {p: next(s.value for s in by[(p, "cpu")].samples if s.metric == "mem_pss_mean_mib")
           for p in ("docker", "gvisor")}
    assert pss["gvisor"] > pss["docker"] > 0
    memory = next(s for s in by[("lxc", "cpu")].samples if s.metric == "mem_pss_mean_mib")
    assert "lxc-start (LXC's monitor) and every process in the container's cgroup" in memory.metadata["probe"]
    assert {"mnt", "pid", "net"} <= set(by[("lxc", "boot")].facts["isolation.namespaces"].split())
    memory = next(s for s in by[("gvisor", "cpu")].samples if s.metric == "mem_pss_mean_mib")
    assert "gVisor's Sentry sandbox, its gofer and their ptrace stubs" in memory.metadata["probe"]
    scores = {p: by[(p, "cpu")].score for p in PLATFORMS}
    assert all(isinstance(v, float) and v > 0 for v in scores.values()), scores
    assert all(f" {p} " in proc.stdout for p in PLATFORMS)  # their rows in the summary


def test_a_runtime_the_engine_lacks_stops_the_run_before_any_trial(tmp_path: Path, images: dict) -> None:
    suite = write_suite(tmp_path, text=SUITE.replace('"docker:crun", "gvisor", "podman", "lxc"', '"docker:no-such-runtime"'))
    proc = bench("run", str(suite), "--output-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("bench: error: platform docker:no-such-runtime: the Docker engine has no "
                                  "runtime 'no-such-runtime' (it has: ")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("platform", ["gvisor", "podman", "lxc"])
def test_sigint_during_a_trial_leaves_nothing(platform: str, tmp_path: Path, images: dict) -> None:
    require_platforms(platform)
    suite = write_suite(tmp_path, text=SUITE.replace('"docker", "docker:crun", "gvisor", "podman", "lxc"', f'"{platform}"')
                        .replace('"boot", "cpu"', '"idle"'))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--no-report",
                             "--output-dir", str(tmp_path / "runs")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    seen: set[str] = set()
    while not (seen and processes_of(platform, seen)) and proc.poll() is None and time.monotonic() < deadline:
        seen |= leftover_instances()
        time.sleep(0.05)
    assert seen and processes_of(platform, seen), f"no {platform} instance seen while the run went on"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert cleanup.leftovers() == [] and leftover_instances() == set()
    assert processes_of(platform, seen) == []
    (record,) = RunDir.open(only_run_dir(tmp_path / "runs")).records()
    assert (record.platform, record.status, record.reason) == (platform, "aborted", "interrupted")
    assert json.loads((only_run_dir(tmp_path / "runs") / "run.json").read_text())["suite"]["platforms"] == [platform]


def test_a_crashed_runs_podman_container_is_refused_then_cleaned(tmp_path: Path, images: dict) -> None:
    require_platforms("podman")
    from bench.platforms import podman

    name = f"{config.NAME_PREFIX}crashed-1-podman"
    podman.podman("create", "--name", name, f"--label={config.RUN_LABEL}=crashed", podman.image(load_manifest()), "true")
    try:
        proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"))
        assert proc.returncode == 2 and f"podman container {name}" in proc.stderr, proc.stderr
        assert f"removed podman container {name}" in bench("clean").stdout
        assert podman.leftover_containers() == []
    finally:
        if name in podman.leftover_containers():
            podman.remove(name)


def test_an_lxc_container_a_killed_run_left_is_stopped_and_removed_by_clean(tmp_path: Path, images: dict) -> None:
    require_platforms("lxc")
    from bench.host import cgroup
    from bench.platforms import lxc

    suite = write_suite(tmp_path, text=SUITE.replace('"docker", "docker:crun", "gvisor", "podman", "lxc"', '"lxc"')
                        .replace('"boot", "cpu"', '"idle"'))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--no-report",
                             "--output-dir", str(tmp_path / "runs")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    seen: set[str] = set()
    while not (seen and processes_of("lxc", seen)) and proc.poll() is None and time.monotonic() < deadline:
        seen = set(lxc.leftover_containers())
        time.sleep(0.05)
    assert seen and processes_of("lxc", seen), "no lxc instance seen while the run went on"
    proc.kill()  # lxc-start has a session of its own: it and the container outlive the harness
    proc.wait()
    (name,) = seen
    try:
        assert processes_of("lxc", seen) and any((h / name).is_dir() for h in cgroup.hierarchies())
        assert f"lxc container {name}" in cleanup.leftovers()
        assert f"removed lxc container {name}" in bench("clean").stdout
        assert cleanup.leftovers() == [] and leftover_instances() == set()
        assert processes_of("lxc", seen) == []
        assert not any((h / name).exists() or (h / f"{name}-monitor").exists() for h in cgroup.hierarchies())
    finally:
        if name in lxc.leftover_containers():
            lxc.remove(name)
