"""The kernel's per-CPU time accounting (/proc/stat) and the CPUs' current frequency.

/proc/stat counts in USER_HZ ticks (10 ms) per CPU. Busy time is everything but idle and
iowait; `steal` is time the hypervisor gave this CPU's turn to something else, counted busy
because the instance could not run then either. guest and guest_nice are already inside user
and nice, so they are not added again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
CPUFREQ = Path("/sys/devices/system/cpu")
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True)
class CpuTicks:
    user: int = 0
    nice: int = 0
    system: int = 0
    idle: int = 0
    iowait: int = 0
    irq: int = 0
    softirq: int = 0
    steal: int = 0

    @property
    def busy(self) -> int:
        return self.user + self.nice + self.system + self.irq + self.softirq + self.steal

    @property
    def total(self) -> int:
        return self.busy + self.idle + self.iowait

    def minus(self, earlier: CpuTicks) -> CpuTicks:
        return CpuTicks(*(getattr(self, f) - getattr(earlier, f) for f in FIELDS))


def _lines(text: str) -> dict[str, CpuTicks]:
    """Each `cpu…` line's name → its counters (an older kernel's missing ones read 0)."""
    found = {}
    for line in text.splitlines():
        name, *numbers = line.split()[:len(FIELDS) + 1] or [""]
        if name.startswith("cpu"):
            found[name] = CpuTicks(*map(int, numbers))
    return found


def parse(text: str) -> dict[int, CpuTicks]:
    """CPU number → its counters, from /proc/stat's `cpuN` lines (the `cpu` total left out)."""
    return {int(name[3:]): ticks for name, ticks in _lines(text).items() if name != "cpu"}


def parse_total(text: str) -> CpuTicks:
    """The `cpu` line: every CPU's counters summed."""
    if (ticks := _lines(text).get("cpu")) is None:
        raise ValueError("no cpu line in /proc/stat")
    return ticks


def snapshot() -> dict[int, CpuTicks]:
    return parse(PROC_STAT.read_text())


def total() -> CpuTicks:
    return parse_total(PROC_STAT.read_text())


def summed(ticks: dict[int, CpuTicks], cpus: tuple[int, ...]) -> CpuTicks:
    chosen = [ticks.get(c, CpuTicks()) for c in cpus]
    return CpuTicks(*(sum(getattr(t, f) for t in chosen) for f in FIELDS))


def frequency_mhz(cpu: int) -> float | None:
    """The CPU's current frequency as cpufreq reports it; None where the host has no cpufreq
    (a VM usually)."""
    try:
        return int((CPUFREQ / f"cpu{cpu}" / "cpufreq" / "scaling_cur_freq").read_text()) / 1000
    except (OSError, ValueError):
        return None
