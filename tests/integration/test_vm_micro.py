"""The optimised VM and the machine models, real: vm-micro (QEMU's microvm, run directly) boots
the same kernel, initramfs and disk as vm and runs byte-identical user space; every VM trial's
boot splits into firmware, kernel and init; UEFI boots the same disk, and the disk converted to
VMware's vmdk boots too; a run killed during a vm-micro trial leaves nothing once `bench clean` ran."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench import config
from bench.guest import qemu
from bench.model.trial import TrialRecord
from bench.platforms.vmboot import instances_dir
from bench.rundir.results import RunDir
from tests.integration.test_crash import clean_after_crash, kill_at
from tests.realhost import bench, require_platforms

SUITE = """\
name = "machines"
platforms = ["vm", "vm-micro", "vm:uefi", "vm:vmdk"]
workloads = ["boot", "hello"]
repetitions = 1
warmup = 0

[only]
"vm:uefi" = ["boot"]
"vm:vmdk" = ["hello"]
"""
PHASES = ("firmware", "kernel", "init")


def test_vm_micro_runs_the_same_user_space_and_every_vm_boot_has_its_phases(tmp_path: Path, images: dict) -> None:
    require_platforms("vm", "vm-micro", "vm:uefi", "vm:vmdk")
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    proc = bench("run", str(suite), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = RunDir.open(next((tmp_path / "runs").iterdir())).records()
    assert len(records) == 6 and all(r.ok for r in records), [r.summary() for r in records]
    hello = {r.platform: r for r in records if r.workload == "hello"}
    assert hello["vm-micro"].score == hello["vm"].score == hello["vm:vmdk"].score == images["dpkg_status_sha256"]
    assert hello["vm:vmdk"].facts["disk_format"].startswith("vmdk (VMware): the qcow2 base converted by qemu-img")
    micro = hello["vm-micro"].facts
    assert micro["machine"].startswith("microvm") and micro["firmware"] == "qboot" and micro["vmm"].startswith("QEMU run directly")
    firmware = {r.platform: r.facts["firmware"] for r in records}
    assert firmware == {"vm": "SeaBIOS", "vm-micro": "qboot", "vm:uefi": "UEFI (OVMF)", "vm:vmdk": "SeaBIOS"}
    for record in records:
        phases = boot_phases(record)
        assert set(PHASES) <= set(phases) and all(phases[p] > 0 for p in PHASES), (record.platform, phases)
        ends = record.phases_s
        assert 0 < ends["resumed"] < ends["firmware"] < ends["kernel"] < record.ready_s, (record.platform, ends)
        assert abs(sum(phases.values()) - record.ready_s) < 1e-3, (record.platform, phases, record.ready_s)


def boot_phases(record: TrialRecord) -> dict[str, float]:
    prefix = "boot_phase."
    return {s.metric[len(prefix):-2]: s.value for s in record.samples if s.metric.startswith(prefix)}


CRASH = """\
name = "micro-crash"
platforms = ["vm-micro"]
workloads = ["boot"]
repetitions = 1
warmup = 0
"""


def test_a_run_killed_during_a_vm_micro_trial_is_cleaned(tmp_path: Path, images: dict) -> None:
    """Killed with its QEMU up: the process goes with the harness; its overlay, monitor socket and
    cgroup stay for `bench clean`, which leaves nothing."""
    require_platforms("vm-micro")
    suite = tmp_path / "suite.toml"
    suite.write_text(CRASH)
    proc = kill_at("1:ready", "run", str(suite), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == -9, proc.stderr[-2000:]
    found = clean_after_crash("after a kill during vm-micro's boot")
    assert any(f.startswith("cgroup") for f in found), found
    assert {Path(f.split()[1]).suffix for f in found if f.startswith("file")} >= {".qcow2", ".qmp"}, found


def test_a_killed_qemu_fails_its_trial_with_the_console_tail(images: dict) -> None:
    """QEMU killed under a running guest: the trial fails then, not at its timeout, with the
    console's last lines and the reason. The kill waits until QEMU has burnt a second of CPU: a
    paused QEMU burns none, so the guest was running (booting under TCG, or in cpu's sysbench)."""
    require_platforms("vm-micro")
    launch = subprocess.Popen([sys.executable, "-m", "bench", "launch", "cpu", "--platform", "vm-micro", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (found := qemu.leftover_processes(instances_dir(), config.NAME_PREFIX)) or \
                sum(psutil.Process(next(iter(found.values()))).cpu_times()[:2]) < RUNNING_CPU_S:
            assert launch.poll() is None and time.monotonic() < deadline, "no running QEMU process"
            time.sleep(0.05)
        started = time.monotonic()
        os.kill(next(iter(found.values())), signal.SIGKILL)
        out, _ = launch.communicate(timeout=120)
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.wait()
    outcome = json.loads(out)
    assert not outcome["ok"] and "QEMU exited with code -9" in outcome["reason"], outcome["reason"]
    assert time.monotonic() - started < 60  # well before the workload's timeout
    assert outcome["console_tail"], outcome


RUNNING_CPU_S = 1.0
