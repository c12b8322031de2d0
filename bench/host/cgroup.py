"""A memory-limited cgroup for the native platform, so it gets the limit the others get.

cgroup v2 (lab machines: /sys/fs/cgroup/<name>/memory.max) and v1 (this kind of host:
/sys/fs/cgroup/memory/<name>/memory.limit_in_bytes). Where neither can be written the native
instance runs without a limit and says so in its facts. On v1 the instance also gets a group
of its own in the cpuacct hierarchy, so its CPU time is read in nanoseconds (probes/cpu.py),
as a container's and a VM's are.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from bench import config

ROOT = Path("/sys/fs/cgroup")


def is_v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


def cpuacct_hierarchy() -> Path | None:
    """cgroup v1's hierarchy with CPU accounting: cpuacct alone or mounted with cpu."""
    for name in ("cpuacct", "cpu,cpuacct", "cpuacct,cpu"):
        if (ROOT / name / "cpuacct.usage").exists():
            return ROOT / name
    return None


def _parent() -> Path:
    return ROOT if is_v2() else ROOT / "memory"


def _cpuacct(path: Path) -> Path | None:
    """The v1 cpuacct group beside a memory group of the same name."""
    hierarchy = None if is_v2() else cpuacct_hierarchy()
    return hierarchy / path.name if hierarchy is not None else None


def _pids(path: Path) -> Path | None:
    """Where the pids limit of a group goes: the group itself on v2, the v1 pids hierarchy's beside it."""
    if is_v2():
        return path
    return ROOT / "pids" / path.name if (ROOT / "pids" / "cgroup.procs").exists() else None


class MemoryCgroup:
    def __init__(self, path: Path):
        self.path = path
        self.cpuacct = _cpuacct(path)
        self.pids: Path | None = None  # the v1 pids group, once made
        self.pids_limit = "no pids limit"

    @classmethod
    def create(cls, name: str, limit_bytes: int, pids_max: int = 0) -> tuple[MemoryCgroup | None, str]:
        """The cgroup, or None and why not; `limit_bytes` 0 sets no limit (a group to account
        and remove the instance by)."""
        parent = _parent()
        if is_v2() and "memory" not in (parent / "cgroup.subtree_control").read_text().split():
            return None, "no memory limit (cgroup v2 memory controller not enabled at the root)"
        path = parent / name
        try:
            path.mkdir()
        except OSError as e:
            return None, f"no memory limit (cgroup {path}: {e.strerror})"
        try:
            if not limit_bytes:
                pass
            elif is_v2():
                (path / "memory.max").write_text(str(limit_bytes))
                if (path / "memory.swap.max").exists():
                    (path / "memory.swap.max").write_text("0")
            else:
                (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
                if (path / "memory.memsw.limit_in_bytes").exists():
                    (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
        except OSError as e:
            cls(path).remove()
            return None, f"no memory limit (cgroup {path}: {e.strerror})"
        group = cls(path)
        if group.cpuacct is not None:
            try:
                group.cpuacct.mkdir()
            except OSError:
                group.cpuacct = None  # CPU time is then read per process, at 10 ms resolution
        group._limit_pids(pids_max)
        if not limit_bytes:
            return group, f"no memory limit (cgroup {'v2' if is_v2() else 'v1'}, for accounting)"
        return group, f"memory limit {limit_bytes // 2**20} MiB (cgroup {'v2' if is_v2() else 'v1'})"

    def _limit_pids(self, pids_max: int) -> None:
        """At most `pids_max` processes and threads in the group, as the containers get; its
        absence is said in `pids_limit`, not hidden."""
        where = _pids(self.path) if pids_max else None
        if where is None:
            self.pids_limit = "no pids limit" + ("" if not pids_max else " (no pids controller)")
            return
        try:
            if where != self.path:
                where.mkdir()
                self.pids = where
            (where / "pids.max").write_text(str(pids_max))
        except OSError as e:
            self.pids_limit = f"no pids limit (cgroup {where}: {e.strerror})"
            return
        self.pids_limit = f"pids limit {pids_max} (cgroup {'v2' if is_v2() else 'v1'})"

    def join_from_child(self) -> None:
        """Runs in the child between fork and exec: move it into this cgroup."""
        for group in (self.path, self.cpuacct, self.pids):
            if group is not None:
                (group / "cgroup.procs").write_text(str(os.getpid()))

    def kill_members(self) -> None:
        """SIGKILL whatever is still in the group (processes that left the session)."""
        kill_members(self.path)

    def remove(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        for path in (self.path, self.cpuacct, self.pids):
            if path is not None:
                _rmdir(path, deadline)


def kill_members(group: Path) -> None:
    try:
        members = (group / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in members:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _rmdir(group: Path, deadline: float) -> None:
    while group.exists():
        try:
            group.rmdir()
        except OSError:  # busy while its last process is being reaped
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)


def leftovers() -> list[Path]:
    """The harness's groups, by name, in any hierarchy; each as its memory (or unified) group's path."""
    if not ROOT.is_dir():
        return []
    names = {p.name for hierarchy in hierarchies() for p in hierarchy.glob(f"{config.NAME_PREFIX}*") if p.is_dir()}
    return sorted(_parent() / name for name in names)


def hierarchies() -> list[Path]:
    """Every mounted hierarchy: the unified one on v2; each v1 controller's (and named ones) else."""
    if is_v2():
        return [ROOT]
    return sorted(p for p in ROOT.iterdir() if p.is_dir() and not p.is_symlink())


def remove_everywhere(name: str, timeout_s: float = 5.0) -> bool:
    """A group of that name in every hierarchy (LXC makes one in each; native in memory and
    cpuacct): its members killed, its subgroups and then it removed. Whether there was one."""
    deadline = time.monotonic() + timeout_s
    found = False
    for hierarchy in hierarchies():
        top = hierarchy / name
        if not top.is_dir():
            continue
        found = True
        for group in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) + [top]:
            kill_members(group)
            _rmdir(group, deadline)
    return found
