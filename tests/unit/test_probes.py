"""Probes on things whose answer is known: this very process, and timestamps."""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

import psutil
import pytest

from bench.model.sample import SampleSink
from bench.probes import boot, cpu, processes
from bench.probes.memory import MIB, MemoryMonitor


def test_boot_segments_add_up_to_the_boot_time() -> None:
    parts = boot.segments({"domain_created": 0.7, "resumed": 0.71, "first_output": 1.6}, ready_s=5.0)
    assert parts == pytest.approx({"domain_created": 0.7, "resumed": 0.01, "first_output": 0.89, "ready": 3.4})
    assert sum(parts.values()) == pytest.approx(5.0)


def test_a_phase_that_ends_with_ready_is_no_segment() -> None:
    # Native: the first output is the READY line; a container's start call can return after it.
    assert boot.segments({"spawned": 0.025, "first_output": 0.028856}, ready_s=0.028856) == pytest.approx(
        {"spawned": 0.025, "ready": 0.003856})
    assert set(boot.segments({"created": 0.018, "first_output": 0.345, "started": 0.348}, ready_s=0.345)) == {
        "created", "ready"}


def test_a_vm_boot_splits_into_firmware_kernel_and_init() -> None:
    """The kernel's first line ends the firmware, the init's ends the kernel; the first console
    byte (a firmware's banner) splits nothing once the firmware's end is known."""
    phases = {"domain_created": 0.4, "resumed": 0.41, "first_output": 0.9, "firmware": 1.0, "kernel": 3.0}
    parts = boot.segments(phases, ready_s=3.5)
    assert parts == pytest.approx({"domain_created": 0.4, "resumed": 0.01, "firmware": 0.59, "kernel": 2.0, "init": 0.5})
    # vm-docker: the engine's phases follow the kernel's; the last one ends at READY as before.
    parts = boot.segments({**phases, "engine_ready": 5.0}, ready_s=6.0)
    assert (parts["kernel"], parts["engine_ready"], parts["ready"]) == pytest.approx((2.0, 2.0, 1.0)) and "init" not in parts


def test_memory_of_this_process_matches_psutil() -> None:
    monitor = MemoryMonitor(lambda: [os.getpid()], hz=50, pss_every=2)
    monitor.start()
    time.sleep(0.1)
    block = bytearray(64 * MIB)  # touched: 64 MiB more resident
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(0.1)
    reading = monitor.finish()
    rss_now = psutil.Process().memory_info().rss
    assert reading.points[-1].pss is not None and reading.points[-1].uss is not None
    assert abs(reading.points[-1].rss - rss_now) < 8 * MIB
    assert max(p.rss for p in reading.points) - min(p.rss for p in reading.points) >= 60 * MIB
    sink = SampleSink("native", "w", "none", {})
    monitor.record(sink)
    names = {s.metric for s in sink.samples}
    assert {"mem_rss_peak_mib", "mem_pss_mean_mib", "mem_uss_peak_mib"} <= names
    del block


def test_vmm_overhead_excludes_the_guest_ram_mapping() -> None:
    guest = mmap.mmap(-1, 32 * MIB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)  # stands in for QEMU's guest RAM
    guest.write(b"x" * (32 * MIB))
    monitor = MemoryMonitor(lambda: [os.getpid()], guest_ram_bytes=32 * MIB)
    reading = monitor.finish()
    assert reading.guest_ram_rss == 32 * MIB
    assert reading.vmm_overhead == pytest.approx(psutil.Process().memory_info().rss - 32 * MIB, abs=4 * MIB)
    guest.close()


def _usage(pids: list[int]) -> float:
    used = cpu.processes_usage(pids)
    return used.seconds if used else 0.0


def test_cpu_seconds_count_reaped_children_once() -> None:
    before = _usage([os.getpid()])
    os.system("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")  # a child that burns CPU, reaped
    after = _usage([os.getpid()])
    t = psutil.Process().cpu_times()
    assert after - before > 0.05
    assert after == pytest.approx(t.user + t.system + t.children_user + t.children_system, abs=0.02)
    assert cpu.processes_usage([2**22 + 7]) is None  # no such process


def test_cpu_time_of_a_process_in_the_harness_own_group_is_per_process() -> None:
    """This process shares the harness's cgroup: its figure must not be the whole group's."""
    used = cpu.cpu_time(os.getpid(), [os.getpid()])
    assert used is not None and used.how == cpu.HOW_PROCESSES


def test_cpu_time_of_an_own_cgroup_is_read_in_nanoseconds(tmp_path: Path) -> None:
    (tmp_path / "cpuacct.usage").write_text("1234567\n")
    used = cpu.group_usage(tmp_path)
    assert used is not None and used.seconds == pytest.approx(0.001234567) and "ns" in used.how
    (tmp_path / "cpuacct.usage").unlink()
    (tmp_path / "cpu.stat").write_text("usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n")
    used = cpu.group_usage(tmp_path)
    assert used is not None and used.seconds == pytest.approx(0.0025)


def test_cgroup_membership_of_this_process_is_readable() -> None:
    procs = processes.cgroup_procs_file(os.getpid())
    if procs is None:
        pytest.skip("no readable cgroup here")
    assert os.getpid() in processes.read_procs(procs)
    assert processes.tree(os.getpid())[0] == os.getpid()
