"""The resources every platform gets: the same CPUs and the same memory.

Instances run on the last `cpus` CPUs the harness may use; the harness keeps to the others
when there are any, so its probes and console readers do not steal the workload's CPU time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Resources:
    cpus: int
    memory_mib: int
    cpuset: tuple[int, ...]  # host CPU numbers the instance may run on

    @property
    def cpuset_text(self) -> str:
        """The cpuset in Docker's and libvirt's syntax: "1" or "2,3"."""
        return ",".join(str(c) for c in self.cpuset)

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * 2**20

    def describe(self) -> dict[str, str]:
        return {"cpus": str(self.cpus), "cpuset": self.cpuset_text, "memory_mib": str(self.memory_mib)}


def allot(cpus: int, memory_mib: int) -> Resources:
    allowed = sorted(os.sched_getaffinity(0))
    return Resources(cpus, memory_mib, tuple(allowed[-cpus:]))


def keep_harness_apart(resources: Resources) -> tuple[int, ...]:
    """Pin this process to the CPUs the instances do not use (if any); returns them."""
    allowed = set(os.sched_getaffinity(0))
    rest = allowed - set(resources.cpuset)
    if rest:
        os.sched_setaffinity(0, rest)
    return tuple(sorted(rest or allowed))
