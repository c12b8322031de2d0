"""Memory of an instance's host processes, sampled while it runs.

RSS (cheap: /proc/PID/statm) at `hz`; PSS and USS (smaps_rollup, about 10x the cost) on every
`pss_every`-th sample and once more when RESULT is seen. For a VM, the VMM's own overhead is
QEMU's RSS without the guest-RAM mapping, as Firecracker's memory monitor measures it; it is
read from /proc/PID/smaps once, at RESULT, because that file is the costliest of all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from bench.model.sample import SampleSink
from bench.model.units import MIB

HOW = "psutil memory_info (RSS) at {hz:g} Hz, memory_full_info (PSS, USS) every {n}th sample, summed over {processes}"
INSTANCE_PROCESSES = "the instance's host processes"


@dataclass(frozen=True)
class MemoryPoint:
    t_s: float  # seconds since the monitor started
    rss: int
    pss: int | None = None
    uss: int | None = None


@dataclass
class MemoryReading:
    points: list[MemoryPoint] = field(default_factory=list)
    vmm_overhead: int | None = None
    guest_ram_rss: int | None = None

    def series(self) -> list[list[float | None]]:
        """[t_s, rss_mib, pss_mib] rows for the trial record (the report's memory chart)."""
        return [[round(p.t_s, 3), round(p.rss / MIB, 2), None if p.pss is None else round(p.pss / MIB, 2)]
                for p in self.points]


class MemoryMonitor:
    def __init__(self, pids: Callable[[], list[int]], hz: float = 4.0, pss_every: int = 4,
                 guest_ram_bytes: int | None = None, processes: str = INSTANCE_PROCESSES):
        self._pids = pids
        self.processes = processes  # which host processes `pids` gives, as the record says
        self.interval = 1.0 / hz
        self.hz = hz
        self.pss_every = pss_every
        self.guest_ram_bytes = guest_ram_bytes
        self.reading = MemoryReading()
        self._processes: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="memory-monitor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        tick = 0
        while True:
            if self.sample(full=tick % self.pss_every == 0):
                tick += 1
            if self._stop.wait(self.interval):
                return

    def _live(self) -> list[psutil.Process]:
        pids = self._pids()
        for pid in pids:
            if pid not in self._processes:
                try:
                    self._processes[pid] = psutil.Process(pid)
                except psutil.Error:
                    pass
        return [self._processes[pid] for pid in pids if pid in self._processes]

    def sample(self, full: bool) -> bool:
        """One sample of every live process of the instance; False when there are none yet."""
        rss = pss = uss = 0
        counted = 0
        for proc in self._live():
            try:
                if full:
                    info = proc.memory_full_info()
                    pss += info.pss
                    uss += info.uss
                else:
                    info = proc.memory_info()
                rss += info.rss
                counted += 1
            except psutil.Error:
                continue  # it exited between the listing and the read
        if not counted:
            return False
        self.reading.points.append(MemoryPoint(time.monotonic() - self._t0, rss,
                                               pss if full else None, uss if full else None))
        return True

    def pss_since(self, t_ns: int) -> list[float]:
        """The PSS readings (MiB) taken at or after host monotonic time `t_ns`, in order."""
        after = t_ns / 1e9 - self._t0
        return [p.pss / MIB for p in list(self.reading.points) if p.pss is not None and p.t_s >= after]

    def finish(self) -> MemoryReading:
        """Stop sampling and take the final full sample (at RESULT, before teardown)."""
        self.stop()
        self.sample(full=True)
        if self.guest_ram_bytes is not None:
            self._read_vmm_overhead()
        return self.reading

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _read_vmm_overhead(self) -> None:
        assert self.guest_ram_bytes is not None
        for proc in self._live():
            try:
                maps = proc.memory_maps(grouped=False)
                total = proc.memory_info().rss
            except psutil.Error:
                continue
            # Guest RAM is one mapping of the guest's memory size (QEMU may round it up by an
            # alignment page or two); anonymous, or a memfd/shm file with a memory backend.
            ram = [m for m in maps if self.guest_ram_bytes <= m.size <= self.guest_ram_bytes + 4 * MIB]
            if ram:
                biggest = max(ram, key=lambda m: m.rss)
                self.reading.guest_ram_rss = biggest.rss
                self.reading.vmm_overhead = total - biggest.rss
                return

    def record(self, sink: SampleSink) -> None:
        how = HOW.format(hz=self.hz, n=self.pss_every, processes=self.processes)
        points = self.reading.points
        if not points:
            return
        for key in ("rss", "pss", "uss"):
            values = [getattr(p, key) for p in points if getattr(p, key) is not None]
            if values:
                sink.add(f"mem_{key}_peak_mib", max(values) / MIB, "MiB", probe=how, samples=len(values))
                sink.add(f"mem_{key}_mean_mib", sum(values) / len(values) / MIB, "MiB", probe=how,
                         samples=len(values))
        if self.reading.vmm_overhead is not None:
            sink.add("vmm_overhead_mib", self.reading.vmm_overhead / MIB, "MiB",
                     probe="QEMU RSS minus its guest-RAM mapping's RSS (/proc/PID/smaps), at RESULT",
                     guest_ram_rss_mib=round((self.reading.guest_ram_rss or 0) / MIB, 2))
