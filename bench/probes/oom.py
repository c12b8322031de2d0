"""How often the kernel's OOM killer struck inside an instance's memory cgroup: a neighbour that
allocates past its limit is killed there, and the count shows it was there and not on the host.

cgroup v1 keeps the count in memory.oom_control (`oom_kill N`), v2 in memory.events. A VM's
guest kills inside its own kernel, which the host cannot see: no figure for it.
"""

from __future__ import annotations

from pathlib import Path

from bench.probes.processes import cgroup_procs_file

HOW = "the kernel's oom_kill count of the instance's memory cgroup (memory.oom_control on v1, memory.events on v2)"


def oom_kills(pids: list[int]) -> int | None:
    """The OOM kills in the memory cgroups these processes are in (each group once); None
    when none of them has a readable count."""
    groups = {procs.parent for pid in pids if (procs := cgroup_procs_file(pid)) is not None}
    counts = [count for group in groups if (count := _count(group)) is not None]
    return sum(counts) if counts else None


def _count(group: Path) -> int | None:
    for name in ("memory.events", "memory.oom_control"):
        try:
            text = (group / name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    return None
