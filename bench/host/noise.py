"""The host's noise sources, read for `bench doctor`: each one's state, whether it is quiet for
the instances' CPUs, what it does to a measurement and the fix.

Read-only. Every path is under `root` (default "/") so that tests read recorded trees.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from bench.host import cpustat

QUIET, NOISY, NOT_APPLICABLE = "quiet", "noisy", "n/a"


@dataclass(frozen=True)
class NoiseSource:
    name: str
    status: str  # quiet | noisy | n/a (the host lacks the knob, or it only informs)
    state: str
    effect: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class HostFiles:
    """Where the host's knobs are read; a test points it at a recorded tree."""

    root: Path = Path("/")

    def path(self, relative: str) -> Path:
        return self.root / relative.lstrip("/")

    def read(self, relative: str) -> str | None:
        try:
            return self.path(relative).read_text().strip()
        except OSError:
            return None

    def cpu(self, cpu: int, leaf: str) -> str | None:
        return self.read(f"sys/devices/system/cpu/cpu{cpu}/{leaf}")


def parse_cpu_list(text: str) -> set[int]:
    """'0-2,5' → {0, 1, 2, 5}; '' → set()."""
    found: set[int] = set()
    for part in filter(None, text.replace(" ", "").split(",")):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def cpu_list_text(cpus: set[int] | tuple[int, ...]) -> str:
    return ",".join(map(str, sorted(cpus)))


def frequency(files: HostFiles, cpus: tuple[int, ...]) -> NoiseSource:
    governors = {files.cpu(c, "cpufreq/scaling_governor") for c in cpus}
    driver = files.cpu(cpus[0], "cpufreq/scaling_driver")
    effect = "the clock follows the load: a trial's first part runs slower, and its time depends on what ran before"
    if governors == {None}:
        return NoiseSource("cpu frequency", NOT_APPLICABLE, "no cpufreq (a VM, or the firmware sets the clock)", effect)
    state = f"driver {driver or '?'}, governor {', '.join(sorted(g or '?' for g in governors))}"
    quiet = governors == {"performance"}
    return NoiseSource("cpu frequency", QUIET if quiet else NOISY, state, effect,
                       "" if quiet else "`bench tune` sets the performance governor")


def boost(files: HostFiles) -> NoiseSource:
    effect = "the clock rises above nominal while the package is cool and the other cores idle: the same work takes different times"
    generic, no_turbo = files.read("sys/devices/system/cpu/cpufreq/boost"), files.read(
        "sys/devices/system/cpu/intel_pstate/no_turbo")
    if generic is None and no_turbo is None:
        return NoiseSource("boost/turbo", NOT_APPLICABLE, "no boost control on this host", effect)
    on = generic == "1" if generic is not None else no_turbo == "0"
    return NoiseSource("boost/turbo", NOISY if on else QUIET, "on" if on else "off", effect,
                       "`bench tune` turns it off" if on else "")


def smt(files: HostFiles, cpus: tuple[int, ...]) -> NoiseSource:
    control = files.read("sys/devices/system/cpu/smt/control") or "unknown"
    siblings: set[int] = set()
    for c in cpus:
        siblings |= parse_cpu_list(files.cpu(c, "topology/thread_siblings_list") or str(c))
    others = siblings - set(cpus)
    effect = "a sibling hyperthread shares the core's execution units and caches with the instance"
    if others:
        return NoiseSource("smt siblings", NOISY, f"SMT {control}; CPU {cpu_list_text(cpus)} share cores with CPU "
                           f"{cpu_list_text(others)}", effect,
                           "keep the siblings idle, or `echo off > /sys/devices/system/cpu/smt/control`")
    return NoiseSource("smt siblings", QUIET, f"SMT {control}; no sibling outside CPU {cpu_list_text(cpus)}", effect)


def isolation(files: HostFiles, cpus: tuple[int, ...]) -> NoiseSource:
    cmdline = files.read("proc/cmdline") or ""
    isolated = parse_cpu_list(files.read("sys/devices/system/cpu/isolated") or "")
    nohz = parse_cpu_list(files.read("sys/devices/system/cpu/nohz_full") or "")
    rcu = next((m.group(1) for m in [re.search(r"\brcu_nocbs=(\S+)", cmdline)] if m), "")
    rcu_cpus = parse_cpu_list(rcu) if rcu and rcu[0].isdigit() else set()
    wanted = set(cpus)
    state = (f"isolcpus {cpu_list_text(isolated) or 'none'}, nohz_full {cpu_list_text(nohz) or 'none'}, "
             f"rcu_nocbs {rcu or 'none'}")
    quiet = wanted <= isolated and wanted <= nohz and wanted <= rcu_cpus
    return NoiseSource("cpu isolation", QUIET if quiet else NOISY, state,
                       "the scheduler may put any task on the instance CPUs; the timer tick and RCU callbacks interrupt them",
                       "" if quiet else f"boot with isolcpus={cpu_list_text(cpus)} nohz_full={cpu_list_text(cpus)} "
                       f"rcu_nocbs={cpu_list_text(cpus)} (a kernel command line change: not done by `bench tune`)")


def irq_affinities(files: HostFiles) -> dict[int, set[int]]:
    """IRQ number → the CPUs it may be delivered to."""
    found = {}
    for entry in sorted(files.path("proc/irq").glob("*/smp_affinity_list")):
        try:
            found[int(entry.parent.name)] = parse_cpu_list(entry.read_text().strip())
        except (OSError, ValueError):
            continue
    return found


def irqbalance_pids() -> list[int]:
    return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "irqbalance"]


def irqs(files: HostFiles, cpus: tuple[int, ...], balancer: list[int]) -> NoiseSource:
    landing = sorted(n for n, allowed in irq_affinities(files).items() if allowed & set(cpus))
    balancing = f"irqbalance running (pid {', '.join(map(str, balancer))})" if balancer else "irqbalance not running"
    effect = "a device's interrupts stop the instance mid-work; irqbalance moves them back as it sees fit"
    if not landing:
        return NoiseSource("irq affinity", QUIET if not balancer else NOISY, f"no IRQ may land on CPU "
                           f"{cpu_list_text(cpus)}; {balancing}", effect, "`bench tune` pauses irqbalance" if balancer else "")
    return NoiseSource("irq affinity", NOISY, f"{len(landing)} IRQ(s) may land on CPU {cpu_list_text(cpus)}; "
                       f"{balancing}", effect, "`bench tune` moves IRQs to the other CPUs and pauses irqbalance")


def aslr(files: HostFiles) -> NoiseSource:
    value = files.read("proc/sys/kernel/randomize_va_space")
    effect = "addresses change with every process: cache and TLB aliasing differ a little between trials"
    if value is None:
        return NoiseSource("aslr", NOT_APPLICABLE, "unreadable", effect)
    return NoiseSource("aslr", NOT_APPLICABLE, f"randomize_va_space {value} ({'on' if value != '0' else 'off'})", effect,
                       "left on: turning it off (`sysctl kernel.randomize_va_space=0`) weakens the host; say so if you do")


def huge_pages(files: HostFiles) -> NoiseSource:
    text = files.read("sys/kernel/mm/transparent_hugepage/enabled")
    effect = "khugepaged collapses pages in the background and page faults cost differently by alignment"
    if text is None:
        return NoiseSource("transparent huge pages", NOT_APPLICABLE, "not available", effect)
    chosen = next((m.group(1) for m in [re.search(r"\[(\w+)\]", text)] if m), text)
    quiet = chosen != "always"
    return NoiseSource("transparent huge pages", QUIET if quiet else NOISY, chosen, effect,
                       "" if quiet else "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled")


def swap(files: HostFiles) -> NoiseSource:
    lines = (files.read("proc/swaps") or "").splitlines()[1:]
    used_kib = sum(int(line.split()[3]) for line in lines if len(line.split()) > 3)
    effect = "memory paged out makes a trial's time depend on what ran before it"
    if not lines:
        return NoiseSource("swap", QUIET, "no swap", effect)
    return NoiseSource("swap", NOISY if used_kib else QUIET, f"{len(lines)} swap area(s), {used_kib // 1024} MiB used",
                       effect, "swapoff -a (when memory allows)" if used_kib else "")


def virtualised(files: HostFiles) -> NoiseSource:
    cpuinfo = files.read("proc/cpuinfo") or ""
    hypervisor = bool(re.search(r"^flags\s*:.*\bhypervisor\b", cpuinfo, re.M))
    try:
        ticks = cpustat.parse_total(files.read("proc/stat") or "")
        steal = 100 * ticks.steal / ticks.total if ticks.total else 0.0
    except ValueError:
        steal = 0.0
    effect = "the hypervisor gives this host's CPUs to other guests: trials lose time they never see (steal)"
    if not hypervisor:
        return NoiseSource("virtualised host", QUIET, "bare metal (no hypervisor flag)", effect)
    return NoiseSource("virtualised host", NOISY if steal >= 1 else QUIET,
                       f"a VM; steal since boot {steal:.2f} % of CPU time", effect,
                       "a bare-metal runner, or dedicated vCPUs; every trial's steal_pct shows what it lost")


def load(cpus: tuple[int, ...], sample_s: float = 0.3) -> NoiseSource:
    """The load average and the busiest processes other than this one over a short sample."""
    one, _, _ = os.getloadavg()
    mine = {os.getpid(), *(c.pid for c in psutil.Process().children(recursive=True))}
    processes = [p for p in psutil.process_iter(["name"]) if p.pid not in mine]
    for p in processes:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(sample_s)
    busy = []
    for p in processes:
        try:
            busy.append((p.cpu_percent(None), p.info["name"], p.pid))
        except psutil.Error:
            continue
    top = [f"{name} (pid {pid}) {pct:.0f} %" for pct, name, pid in sorted(busy, reverse=True)[:3] if pct >= 1]
    logical = os.cpu_count() or 1
    quiet = one < 0.5 * logical and not any(pct >= 10 for pct, _, _ in busy)
    state = f"load {one:.2f} on {logical} CPU(s); busiest: {', '.join(top) or 'nothing above 1 %'}"
    return NoiseSource("load", QUIET if quiet else NOISY, state,
                       "other work competes with the instance for CPU time, caches and memory bandwidth",
                       "" if quiet else "stop the busy processes, or run on a quiet host; trials they reach "
                       "are flagged disturbed")


def examine(cpus: tuple[int, ...], files: HostFiles = HostFiles(), sample_s: float = 0.3) -> list[NoiseSource]:
    return [frequency(files, cpus), boost(files), smt(files, cpus), isolation(files, cpus),
            irqs(files, cpus, irqbalance_pids()), aslr(files), huge_pages(files), swap(files), virtualised(files),
            load(cpus, sample_s)]
