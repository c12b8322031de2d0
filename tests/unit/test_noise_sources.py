"""Doctor's noise sources, each read from a recorded tree of /sys and /proc: a tuned bare-metal
lab machine (quiet), an untuned desktop (noisy, with the fix), and a VM without the knobs (n/a)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.host import noise
from bench.host.noise import NOISY, NOT_APPLICABLE, QUIET, HostFiles

CPUS = (3,)


def tree(root: Path, files: dict[str, str]) -> HostFiles:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return HostFiles(root)


LAB = {
    "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor": "performance",
    "sys/devices/system/cpu/cpu3/cpufreq/scaling_driver": "intel_pstate",
    "sys/devices/system/cpu/intel_pstate/no_turbo": "1",
    "sys/devices/system/cpu/smt/control": "off",
    "sys/devices/system/cpu/cpu3/topology/thread_siblings_list": "3",
    "sys/devices/system/cpu/isolated": "2-3",
    "sys/devices/system/cpu/nohz_full": "2-3",
    "proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/sda1 isolcpus=2-3 nohz_full=2-3 rcu_nocbs=2-3",
    "proc/irq/24/smp_affinity_list": "0-1",
    "proc/irq/25/smp_affinity_list": "0",
    "proc/sys/kernel/randomize_va_space": "2",
    "sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never",
    "proc/swaps": "Filename\tType\tSize\tUsed\tPriority",
    "proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr",
    "proc/stat": "cpu  100 0 50 1000 0 0 0 0 0 0",
}

DESKTOP = {
    "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor": "powersave",
    "sys/devices/system/cpu/cpu3/cpufreq/scaling_driver": "amd-pstate-epp",
    "sys/devices/system/cpu/cpufreq/boost": "1",
    "sys/devices/system/cpu/smt/control": "on",
    "sys/devices/system/cpu/cpu3/topology/thread_siblings_list": "3,7",
    "sys/devices/system/cpu/isolated": "",
    "proc/cmdline": "BOOT_IMAGE=/vmlinuz quiet splash",
    "proc/irq/24/smp_affinity_list": "0-7",
    "proc/irq/25/smp_affinity_list": "3",
    "proc/irq/26/smp_affinity_list": "0-2",
    "proc/sys/kernel/randomize_va_space": "2",
    "sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never",
    "proc/swaps": "Filename\tType\tSize\tUsed\tPriority\n/swapfile file\t2097148\t524288\t-2",
    "proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu vme hypervisor tsc",
    "proc/stat": "cpu  1000 0 500 8000 0 0 0 300 0 0",
}


def test_a_tuned_lab_machine_reads_quiet(tmp_path: Path) -> None:
    files = tree(tmp_path, LAB)
    found = {s.name: s for s in [noise.frequency(files, CPUS), noise.boost(files), noise.smt(files, CPUS),
                                 noise.isolation(files, CPUS), noise.irqs(files, CPUS, []), noise.huge_pages(files),
                                 noise.swap(files), noise.virtualised(files)]}
    assert {name: s.status for name, s in found.items()} == {name: QUIET for name in found}
    assert found["cpu frequency"].state == "driver intel_pstate, governor performance"
    assert found["boost/turbo"].state == "off"
    assert found["cpu isolation"].state == "isolcpus 2,3, nohz_full 2,3, rcu_nocbs 2-3"
    assert found["irq affinity"].state.startswith("no IRQ may land on CPU 3")
    assert found["transparent huge pages"].state == "madvise"
    assert found["virtualised host"].state == "bare metal (no hypervisor flag)"
    assert all(not s.fix for s in found.values())


def test_an_untuned_desktop_reads_noisy_with_each_fix(tmp_path: Path) -> None:
    files = tree(tmp_path, DESKTOP)
    found = {s.name: s for s in [noise.frequency(files, CPUS), noise.boost(files), noise.smt(files, CPUS),
                                 noise.isolation(files, CPUS), noise.irqs(files, CPUS, [812]), noise.huge_pages(files),
                                 noise.swap(files), noise.virtualised(files)]}
    assert {name: s.status for name, s in found.items()} == {name: NOISY for name in found}
    assert found["cpu frequency"].state == "driver amd-pstate-epp, governor powersave"
    assert "performance governor" in found["cpu frequency"].fix
    assert found["boost/turbo"].fix == "`bench tune` turns it off"
    assert "share cores with CPU 7" in found["smt siblings"].state
    assert "isolcpus=3" in found["cpu isolation"].fix
    assert found["irq affinity"].state == "2 IRQ(s) may land on CPU 3; irqbalance running (pid 812)"
    assert found["swap"].state == "1 swap area(s), 512 MiB used"
    assert found["virtualised host"].state == "a VM; steal since boot 3.06 % of CPU time"
    assert all(s.effect and s.fix for s in found.values())


def test_a_vm_without_the_knobs_says_so(tmp_path: Path) -> None:
    files = tree(tmp_path, {"proc/cmdline": "console=ttyS0", "sys/devices/system/cpu/smt/control": "notsupported"})
    assert noise.frequency(files, CPUS).status == NOT_APPLICABLE
    assert noise.frequency(files, CPUS).state.startswith("no cpufreq")
    assert noise.boost(files).status == NOT_APPLICABLE
    assert noise.aslr(files).status == NOT_APPLICABLE and noise.aslr(files).state == "unreadable"
    assert noise.huge_pages(files).status == NOT_APPLICABLE
    assert noise.smt(files, CPUS).state == "SMT notsupported; no sibling outside CPU 3"


@pytest.mark.parametrize("text, expected", [("0-2,5", {0, 1, 2, 5}), ("", set()), ("7", {7}), ("0-1, 4-5", {0, 1, 4, 5})])
def test_cpu_lists(text: str, expected: set[int]) -> None:
    assert noise.parse_cpu_list(text) == expected


def test_this_hosts_sources_are_all_read() -> None:
    """On the real host: every source answers, with a status of the three and what it does."""
    found = noise.examine((sorted(os.sched_getaffinity(0))[-1],), sample_s=0.05)
    assert [s.name for s in found] == ["cpu frequency", "boost/turbo", "smt siblings", "cpu isolation", "irq affinity",
                                       "aslr", "transparent huge pages", "swap", "virtualised host", "load"]
    assert all(s.status in (QUIET, NOISY, NOT_APPLICABLE) and s.effect and s.state for s in found)
    assert all(s.fix for s in found if s.status == NOISY)
