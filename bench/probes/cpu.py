"""Host CPU time an instance consumed, read once when RESULT is seen.

From the instance's own cgroup where it has one (a container's, a VM's libvirt group, the
native instance's): cpuacct.usage on cgroup v1, cpu.stat usage_usec on v2, nanosecond and
microsecond resolution, every process of the group counted, living or reaped. Otherwise from
psutil: user + system of every live process plus the time of children they reaped, in clock
ticks (10 ms), so a short instance can read 0; the probe says which one it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.host import cgroup
from bench.model.sample import SampleSink

HOW_CGROUP = "cgroup CPU usage of the instance's own group at RESULT ({file})"
HOW_PROCESSES = ("psutil cpu_times: user+system+reaped children, of the instance's host processes at RESULT "
                 "(clock ticks: 10 ms resolution)")


@dataclass(frozen=True)
class CpuTime:
    seconds: float
    how: str


# libvirt splits a domain's group: QEMU's main thread in emulator/, each vCPU thread in vcpuN/.
LIBVIRT_SPLIT = re.compile(r"emulator|vcpu\d+")


def group_of(pid: int) -> Path | None:
    """The cgroup directory that accounts `pid`'s CPU time, unless it is a root group (shared
    with everything else on the host) or the harness's own."""
    own = _accounting_group(Path("/proc/self/cgroup"))
    theirs = _accounting_group(Path(f"/proc/{pid}/cgroup"))
    if theirs is None or theirs in ("/", own):
        return None
    base = cgroup.ROOT if cgroup.is_v2() else cgroup.cpuacct_hierarchy()
    if base is None:
        return None
    path = base / theirs.lstrip("/")
    if LIBVIRT_SPLIT.fullmatch(path.name):  # the domain's own group holds both
        path = path.parent
    return path if path.is_dir() else None


def _accounting_group(proc_cgroup: Path) -> str | None:
    """The group path in the hierarchy with CPU accounting: cpuacct (v1) or the unified one (v2)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    v2 = cgroup.is_v2()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (v2 and controllers == "") or (not v2 and "cpuacct" in controllers.split(",")):
            return path
    return None


def group_usage(group: Path) -> CpuTime | None:
    try:
        if (group / "cpuacct.usage").exists():
            return CpuTime(int((group / "cpuacct.usage").read_text()) / 1e9,
                           HOW_CGROUP.format(file="cpuacct.usage, ns"))
        stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
        return CpuTime(int(stat["usage_usec"]) / 1e6, HOW_CGROUP.format(file="cpu.stat usage_usec, µs"))
    except (OSError, KeyError, ValueError):
        return None


def processes_usage(pids: list[int]) -> CpuTime | None:
    total, seen = 0.0, False
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
        seen = True
    return CpuTime(total, HOW_PROCESSES) if seen else None


def cpu_time(main_pid: int | None, pids: list[int]) -> CpuTime | None:
    """The instance's CPU time: its cgroup's when it has one of its own, else its processes'."""
    group = group_of(main_pid) if main_pid else None
    return (group_usage(group) if group is not None else None) or processes_usage(pids)


def record(sink: SampleSink, used: CpuTime | None) -> None:
    if used is not None:
        sink.add("host_cpu_s", used.seconds, "s", probe=used.how)
