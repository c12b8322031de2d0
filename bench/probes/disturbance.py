"""Whether something else ran on a trial's CPUs: the disturbance figure of every single trial.

Over the trial's window (the instance's first create call → RESULT), the kernel's busy time on
the instance's CPUs (/proc/stat, steal included) minus what the instance itself used (its cgroup,
or its processes) and what its platform's engine daemons used meanwhile (dockerd, containerd,
the shim, libvirtd: they may run on any CPU, so all of their time is taken off, which can only
make the figure smaller) is what ran there but was neither. The harness and its host-side
clients are pinned to the other CPUs (model/resources.py), so they do not count, unless the
host has no other CPU, which the record then says.

A trial is `disturbed` when that foreign share of its CPUs' time reaches DISTURBED_PCT. /proc/stat
counts whole 10 ms ticks, so a window shorter than MIN_TICKS of them (a native hello's) has no
figure: `disturbed` stays unknown (None) rather than read one stray tick as a disturbance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil

from bench.host import cpustat
from bench.host.cpustat import CpuTicks
from bench.model.sample import SampleSink

# Chosen from measurements on this kind of host (README, "Host noise"): quiet trials read
# 0–3 % (kernel threads, the engine's reaping), a busy process pinned to the CPU 35–55 %.
DISTURBED_PCT = 10.0
# The daemons that start and serve instances: their CPU time is the platform's, not foreign.
MIN_TICKS = 25  # the figure's resolution is then 4 %, well under the threshold
# docker-proxy, slirp4netns and the like carry a server's traffic: the network path's, not foreign.
ENGINE_PROCESSES = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc", "crun", "runsc",
                    "runsc-gofer", "runsc-sandbox", "docker-proxy", "libvirtd", "virtlogd", "virtqemud", "conmon",
                    "podman", "slirp4netns", "netavark", "aardvark-dns", "lxc-start", "lxc-monitord")
PROBE = ("/proc/stat busy ticks (steal included) on the instance's CPUs over t0 → RESULT, minus the instance's own "
         "CPU time and its engine daemons'")


@dataclass(frozen=True)
class Disturbance:
    cpus: tuple[int, ...]
    window_s: float
    busy_s: float  # the kernel's busy time on those CPUs, steal included
    steal_s: float
    instance_s: float  # the instance's own CPU time
    engine_s: float  # its engine daemons' CPU time meanwhile, on any CPU
    mhz: tuple[float, ...]  # the CPUs' frequency at the window's start and end, where readable
    harness_shares: bool = False  # the harness runs on these CPUs too (a host with no other)

    @property
    def capacity_s(self) -> float:
        return self.window_s * len(self.cpus)

    @property
    def foreign_s(self) -> float:
        return max(self.busy_s - self.instance_s - self.engine_s, 0.0)

    @property
    def foreign_pct(self) -> float:
        return 100 * self.foreign_s / self.capacity_s if self.capacity_s > 0 else 0.0

    @property
    def steal_pct(self) -> float:
        return 100 * self.steal_s / self.capacity_s if self.capacity_s > 0 else 0.0

    @property
    def resolved(self) -> bool:
        """Whether the window holds enough ticks for the figure to mean something."""
        return self.capacity_s >= MIN_TICKS * cpustat.TICK_S

    @property
    def disturbed(self) -> bool | None:
        # rounded: 10 % of a window must not read 9.999999999999998 and pass
        return round(self.foreign_pct, 6) >= DISTURBED_PCT if self.resolved else None

    def describe(self) -> str:
        cpus = ",".join(map(str, self.cpus))
        if not self.resolved:
            return (f"not judged: {self.window_s * 1000:.0f} ms on CPU {cpus} is under {MIN_TICKS} of /proc/stat's "
                    f"{cpustat.TICK_S * 1000:.0f} ms ticks")
        text = (f"{self.foreign_pct:.1f} % of CPU {cpus}'s time over {self.window_s:.2f} s went to other processes "
                f"(busy {self.busy_s:.2f} s, the instance {self.instance_s:.2f} s, its engine {self.engine_s:.2f} s, "
                f"steal {self.steal_s:.2f} s)")
        if self.harness_shares:
            text += "; the harness runs on these CPUs too, so its own work counts as foreign"
        return text

    def record(self, sink: SampleSink) -> None:
        if not self.resolved:
            return
        sink.add("foreign_cpu_pct", self.foreign_pct, "%", probe=PROBE)
        sink.add("steal_pct", self.steal_pct, "%", probe="/proc/stat steal ticks on the instance's CPUs over t0 → RESULT")
        if self.mhz:
            how = "cpufreq scaling_cur_freq of the instance's CPUs at t0 and at RESULT"
            sink.add("cpu_mhz_min", min(self.mhz), "MHz", "higher", probe=how)
            sink.add("cpu_mhz_max", max(self.mhz), "MHz", "higher", probe=how)


def engine_cpu_s() -> dict[int, float]:
    """pid → CPU seconds (reaped children included) of every engine daemon now."""
    found = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        name, times = process.info["name"], process.info["cpu_times"]
        if name in ENGINE_PROCESSES and times is not None:
            found[process.pid] = times.user + times.system + times.children_user + times.children_system
    return found


class DisturbanceProbe:
    """Started just before the instance's first create call, finished at RESULT."""

    def __init__(self, cpus: tuple[int, ...], harness_cpus: tuple[int, ...]) -> None:
        self.cpus = cpus
        self.harness_shares = bool(set(cpus) & set(harness_cpus))
        self.engines: dict[int, float] = {}
        self.ticks: dict[int, CpuTicks] = {}
        self.started_ns = 0
        self.mhz: list[float] = []

    def start(self) -> None:
        self.engines = engine_cpu_s()
        self._read_mhz()
        self.ticks = cpustat.snapshot()
        self.started_ns = time.monotonic_ns()

    def finish(self, instance_s: float) -> Disturbance:
        window_s = (time.monotonic_ns() - self.started_ns) / 1e9
        used = cpustat.summed(cpustat.snapshot(), self.cpus).minus(cpustat.summed(self.ticks, self.cpus))
        now = engine_cpu_s()
        engine_s = sum(seconds - self.engines.get(pid, 0.0) for pid, seconds in now.items())
        self._read_mhz()
        return Disturbance(self.cpus, window_s, used.busy * cpustat.TICK_S, used.steal * cpustat.TICK_S, instance_s,
                           max(engine_s, 0.0), tuple(self.mhz), self.harness_shares)

    def _read_mhz(self) -> None:
        self.mhz += [mhz for cpu in self.cpus if (mhz := cpustat.frequency_mhz(cpu)) is not None]
