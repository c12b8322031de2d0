"""Which host processes belong to an instance, found cheaply enough to ask several times a second.

Walking the whole process table (psutil's `children(recursive=True)`) costs about 4 ms here;
reading the instance's cgroup membership file costs microseconds. Containers and the native
instance have their own cgroup; a VM is its QEMU process.
"""

from __future__ import annotations

from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_procs_file(pid: int) -> Path | None:
    """The `cgroup.procs` file listing every process in `pid`'s cgroup (memory hierarchy on
    cgroup v1, the unified one on v2)."""
    try:
        membership = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    candidate = procs_file_for(membership)
    return candidate if candidate is not None and candidate.exists() else None


def procs_file_for(membership: str, root: Path = CGROUP_ROOT) -> Path | None:
    """Where the members of the cgroup described by /proc/PID/cgroup's text are listed."""
    by_controller = {}
    for line in membership.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            by_controller[controller] = path
    if "memory" in by_controller:  # v1 (or hybrid): the memory hierarchy
        return root / "memory" / by_controller["memory"].lstrip("/") / "cgroup.procs"
    if "" in by_controller:  # v2: the one unified hierarchy
        return root / by_controller[""].lstrip("/") / "cgroup.procs"
    return None


def read_procs(procs_file: Path) -> list[int]:
    try:
        return [int(p) for p in procs_file.read_text().split()]
    except OSError:  # the cgroup went away with its last process
        return []


def tree(pid: int) -> list[int]:
    """`pid` and its descendants, by walking the process table (the slow fallback)."""
    try:
        root = psutil.Process(pid)
        return [pid] + [c.pid for c in root.children(recursive=True)]
    except psutil.Error:
        return []
