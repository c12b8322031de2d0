"""Which runs are in progress on this host, so that `bench clean` and a new run can tell a
crashed run's leftovers from a live run's instances.

A run holds an exclusive flock on `<cache>/leases/<run id>.lock` while it lives. The kernel
drops the lock when the process dies, however it dies, so a lock that can be taken marks a
run that is gone, whatever its file says. Everything a run creates is named
`<NAME_PREFIX><run id>-…`, which is how a thing is matched to its run.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import config


@dataclass(frozen=True)
class LiveRun:
    run_id: str
    pid: int

    def owns(self, name: str) -> bool:
        return name.startswith(f"{config.NAME_PREFIX}{self.run_id}-")


def lease_dir() -> Path:
    return config.cache_dir() / "leases"


@contextmanager
def held(run_id: str) -> Iterator[None]:
    """Mark the run live for as long as the block runs."""
    directory = lease_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{run_id}.lock"
    # Locked before it takes its name: an unlocked lease file is always a dead run's.
    locking = directory / f"{run_id}.new"
    fd = os.open(locking, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, str(os.getpid()).encode())
        os.rename(locking, path)
        yield
    finally:
        path.unlink(missing_ok=True)
        locking.unlink(missing_ok=True)
        os.close(fd)


def live_runs() -> list[LiveRun]:
    """The runs whose lease is held now; the files of dead runs are removed on the way."""
    found = []
    for path in sorted(lease_dir().glob("*.lock")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # its run ended meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip()
            found.append(LiveRun(path.stem, int(pid) if pid.isdigit() else 0))
        else:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return found


def owner(name: str, live: list[LiveRun]) -> LiveRun | None:
    return next((run for run in live if run.owns(name)), None)
