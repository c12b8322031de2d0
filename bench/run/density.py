"""A density trial: N idle instances of one platform started one after another and kept
running, then all removed.

After each start (READY seen, then a short settle) the host's available memory, the summed PSS
of every instance's host processes and their disk growth are read. From these: the marginal
host memory of one more instance (the drop in available memory, which also counts kernel
memory PSS cannot see), its PSS, its disk, instances per GiB, and how the k-th start compares
with the first. Instances are torn down newest first, whatever happened.
"""

from __future__ import annotations

import time
from dataclasses import replace

import psutil

from bench.guest.protocol import READY
from bench.host import killpoints
from bench.model.sample import SampleSink
from bench.model.trial import DENSITY_TEARDOWN, TrialRecord
from bench.model.units import MIB
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes.memory import MemoryMonitor
from bench.run.frame import CONSOLE_TAIL_LINES, TrialFrame, teardown_all

SETTLE_S = 2.0  # after READY: let the new instance's memory use settle before reading


class DensityTrial(TrialFrame):
    """N instances started one after another and kept running; torn down newest first."""

    teardown_metric = DENSITY_TEARDOWN

    def __init__(self, driver: Driver, ctx: TrialContext, record: TrialRecord, instances: int,
                 timeout_s: float) -> None:
        super().__init__(driver, ctx, record, instances=instances)
        self.instances, self.timeout_s = instances, timeout_s
        self.running: list[Instance] = []
        self.starts: list[float] = []

    def prepare(self) -> None:
        self.monitor = MemoryMonitor(lambda: [pid for i in self.running for pid in i.host_pids()])
        self.available_before = psutil.virtual_memory().available

    def measure(self) -> None:
        for k in range(1, self.instances + 1):
            instance = self.driver.prepare(replace(self.ctx, instance=k))
            self.running.append(instance)
            instance.setup()
            t0 = time.monotonic_ns()
            instance.start()
            line = instance.console.wait_for(READY, self.timeout_s)[1]
            killpoints.reach(self.record.seq, f"instance-{k}")
            self.starts.append((line.t_ns - t0) / 1e9)
            time.sleep(SETTLE_S)
        self.monitor.sample(full=True)
        available_after = psutil.virtual_memory().available
        _record(self.sink, self.instances, self.starts, self.available_before - available_after, self.monitor,
                self.running)

    def failure(self, error: Exception) -> str:
        return f"instance {len(self.running)} of {self.instances}: {error}"

    def observe(self) -> None:
        record = self.record
        if self.running:
            record.facts = {**self.driver.instance_facts(), **self.running[0].facts,
                            "instances": str(self.instances), "start_s": " ".join(f"{s:.3f}" for s in self.starts)}
            if not record.ok:
                record.console_tail = self.running[-1].console.tail(CONSOLE_TAIL_LINES)

    def teardown(self) -> None:
        teardown_all(self.running)


def run_density(driver: Driver, ctx: TrialContext, record: TrialRecord, instances: int,
                timeout_s: float) -> TrialRecord:
    return DensityTrial(driver, ctx, record, instances, timeout_s).run()


def _record(sink: SampleSink, n: int, starts: list[float], available_drop: int, monitor: MemoryMonitor,
            running: list[Instance]) -> None:
    per_instance_mib = available_drop / n / MIB
    sink.add("density_mem_mib", per_instance_mib, "MiB", probe="drop of the host's MemAvailable / instances")
    pss = monitor.reading.points[-1].pss if monitor.reading.points else None
    pss_mib = pss / n / MIB if pss is not None else 0.0
    if pss is not None:
        sink.add("density_pss_mib", pss_mib, "MiB", probe="summed PSS of every instance's host processes / instances")
    # MemAvailable moves by a few MiB on its own: for instances smaller than that the drop
    # is noise (it can even read negative), and their PSS is the better floor.
    cost_mib = max(per_instance_mib, pss_mib)
    if cost_mib > 0:
        sink.add("density_per_gib", 1024 / cost_mib, "instances/GiB", "higher",
                 probe="1024 / the larger of density_mem_mib and density_pss_mib")
    sink.add("density_start_first_s", starts[0], "s", probe="t0 → READY of the first instance")
    sink.add("density_start_last_s", starts[-1], "s", probe=f"t0 → READY of instance {n}, {n - 1} already running")
    growth = [g.bytes for g in (i.disk_growth() for i in running) if g is not None]
    if growth:
        sink.add("density_disk_mib", sum(growth) / len(growth) / MIB, "MiB", probe="mean disk growth per instance")
