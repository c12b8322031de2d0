"""A container inside a VM, for real: the VM boots a Debian with docker.io whose dockerd runs
a container of the same image (same id) as the host's docker platform; hello gives the same
digest, and the boot is split into the engine's start and the container's. SIGINT during a
vm-docker trial leaves no domain, overlay or build directory. Building its disk leaves the
host's Docker networking as it was."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.host import engines
from bench.host.proc import unmount_under
from bench.images import engine_disk
from bench.operations import cleanup
from bench.rundir.results import RunDir
from tests import hoststate
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import require_platforms

SUITE = """\
name = "it-vm-docker"
platforms = ["docker", "vm-docker"]
workloads = ["hello"]
repetitions = 1
warmup = 0
seed = 23
"""


def test_the_docker_image_runs_in_a_container_inside_a_vm(tmp_path: Path, images: dict) -> None:
    require_platforms("docker", "vm-docker")
    proc = subprocess.run([sys.executable, "-m", "bench", "run", str(write_suite(tmp_path, text=SUITE)),
                           "--output-dir", str(tmp_path / "runs"), "--no-report"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = RunDir.open(only_run_dir(tmp_path / "runs"))
    by = {(r.platform, r.workload): r for r in run.records()}
    assert all(r.ok for r in by.values()), [r.summary() for r in by.values() if not r.ok]
    for platform in ("docker", "vm-docker"):  # byte-identical user space
        assert by[(platform, "hello")].score == images["dpkg_status_sha256"]
    # One trial each shows it all: every trial is timed and probed as a boot trial is.
    boot = by[("vm-docker", "hello")]
    assert boot.facts["boot_profile"].startswith("container host")
    assert boot.facts["image"].startswith(images["container_image"]["sha256"])
    assert boot.facts["isolation.kernel"].startswith("its own (")
    # The run records its disk beside the manifest's artifacts, as the trials name it.
    images_info = run.info().images
    assert boot.facts["engine_disk"].startswith(images_info["artifacts"]["vm_docker_disk"][:16])
    assert images_info["bytes"]["vm_docker_disk"] > 0 and images_info["build_seconds"]["vm_docker_disk"] > 0
    phases = boot.phases_s
    assert 0 < phases["domain_created"] < phases["engine_starting"] < phases["engine_ready"] \
        < phases["container_created"] < boot.ready_s, phases
    memory = next(s for s in boot.samples if s.metric == "mem_pss_mean_mib")
    assert memory.value > 0
    seconds = {p: next(s.value for s in by[(p, "hello")].samples if s.metric == "boot_s") for p in ("docker", "vm-docker")}
    assert seconds["vm-docker"] > seconds["docker"]  # an engine's start inside a VM, then the same container


def test_sigint_during_a_vm_docker_trial_leaves_nothing(tmp_path: Path, images: dict) -> None:
    require_platforms("vm-docker")
    suite = write_suite(tmp_path, text=SUITE.replace('"docker", "vm-docker"', '"vm-docker"').replace(
        '"hello"', '"idle"'))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--no-report",
                             "--output-dir", str(tmp_path / "runs")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    conn = engines.libvirt_connection()
    try:
        deadline = time.monotonic() + 600  # the first use builds the vm-docker disk
        while proc.poll() is None and time.monotonic() < deadline:
            if any(d.name().endswith("-vm-docker") for d in conn.listAllDomains()):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before its vm-docker domain appeared"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130 and "Traceback" not in err, err
        assert cleanup.leftovers() == []
        assert not any(d.name().endswith("-vm-docker") for d in conn.listAllDomains())
    finally:
        conn.close()
        if proc.poll() is None:
            proc.kill()
    (record,) = RunDir.open(only_run_dir(tmp_path / "runs")).records()
    assert (record.platform, record.status, record.reason) == ("vm-docker", "aborted", "interrupted")


NET_ON_DOCKER = """\
name = "it-net-after-preload"
platforms = ["docker"]
workloads = ["net"]
repetitions = 1
warmup = 0
seconds = 1
"""


def test_docker_net_runs_after_the_disks_preloading_dockerd(tmp_path: Path, images: dict) -> None:
    """The step of vm-docker's disk build that starts a dockerd of its own, run for real (the
    cached disk would skip it), then a docker net trial: the host's docker0 is untouched by it."""
    require_platforms("docker", "vm-docker")
    before = hoststate.snapshot()
    tree, work = tmp_path / "engine", tmp_path / "work"
    work.mkdir()
    try:
        image = images["container_image"]["sha256"]
        engine_disk.save(engines.docker_client(), image, work / "image.tar")
        engine_disk.preload(work / "image.tar", image, tree, work)
    finally:
        unmount_under(tmp_path)
    assert (tree / "var/lib/docker/image").is_dir()
    assert hoststate.differences(before, hoststate.snapshot()) == []
    proc = subprocess.run([sys.executable, "-m", "bench", "run", str(write_suite(tmp_path, text=NET_ON_DOCKER)),
                           "--output-dir", str(tmp_path / "runs"), "--no-report"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (record,) = RunDir.open(only_run_dir(tmp_path / "runs")).records()
    assert record.ok and next(s.value for s in record.samples if s.metric == "throughput_mbit_s") > 0
