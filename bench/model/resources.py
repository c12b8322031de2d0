"""The resources every platform gets: the same CPUs and the same memory.

Instances run on the last `cpus` CPUs the harness may use; the harness keeps to the others
when there are any, so its probes and console readers do not steal the workload's CPU time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


PIDS_MAX = 1024


@dataclass(frozen=True)
class Resources:
    cpus: int
    memory_mib: int
    cpuset: tuple[int, ...]  # host CPU numbers the instance may run on
    # Processes and threads per instance, on every platform with a host-side limit (a fork
    # stress stops there); a VM's guest processes are the guest kernel's, not the host's.
    pids_max: int = PIDS_MAX

    @property
    def cpuset_text(self) -> str:
        """The cpuset in Docker's and libvirt's syntax: "1" or "2,3"."""
        return ",".join(str(c) for c in self.cpuset)

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * 2**20

    def describe(self) -> dict[str, str]:
        return {"cpus": str(self.cpus), "cpuset": self.cpuset_text, "memory_mib": str(self.memory_mib),
                "pids_max": str(self.pids_max)}


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


PLACEMENTS = ("same-cpu", "other-cpu")


@dataclass(frozen=True)
class PairPlacement:
    """Where an interference trial's two instances and the harness run."""

    placement: str
    victim: Resources
    neighbour: Resources
    harness_cpus: tuple[int, ...]  # shared with the instances only on a host too small to avoid it

    def describe(self) -> str:
        return (f"{self.placement}: victim on CPU {self.victim.cpuset_text}, neighbour on CPU "
                f"{self.neighbour.cpuset_text}, harness on CPU {','.join(map(str, self.harness_cpus))}")


class PlacementError(ValueError):
    """The host has too few CPUs for the placement asked for (one line, said before any trial)."""


def place_pair(placement: str, cpus: int, memory_mib: int, allowed: list[int] | None = None) -> PairPlacement:
    """`same-cpu`: both instances on the last `cpus` CPUs, the harness on the rest (what the
    platform's CPU controller gives each); `other-cpu`: the neighbour on the `cpus` CPUs before
    the victim's, and the harness still on a CPU of its own, or its probes and console reading
    would compete with the neighbour it is meant to observe beside the victim."""
    if placement not in PLACEMENTS:
        raise PlacementError(f"{placement!r} is not a placement: one of {', '.join(PLACEMENTS)}")
    allowed = sorted(allowed if allowed is not None else os.sched_getaffinity(0))
    if cpus > len(allowed):
        raise PlacementError(f"{placement}: {cpus} CPU(s) per instance asked for, this host offers {len(allowed)}")
    victim = Resources(cpus, memory_mib, tuple(allowed[-cpus:]))
    if placement == "same-cpu":
        rest = allowed[:-cpus]
        return PairPlacement(placement, victim, victim, tuple(rest or allowed))
    needed = 2 * cpus + 1
    if len(allowed) < needed:
        raise PlacementError(f"other-cpu needs {needed} CPUs ({cpus} for the victim, {cpus} for the neighbour, "
                             f"1 for the harness); this host offers {len(allowed)}: use same-cpu here")
    neighbour = Resources(cpus, memory_mib, tuple(allowed[-2 * cpus:-cpus]))
    return PairPlacement(placement, victim, neighbour, tuple(allowed[:-2 * cpus]))
