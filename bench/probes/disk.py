"""Disk footprint: what each platform's image occupies, and what one instance adds.

Image: the container image's size as Docker reports it; the VM's qcow2 base (allocated
bytes) plus kernel and initramfs; the native rootfs directory (allocated bytes, hard links
once). Per instance: the container's writable layer (SizeRw); the VM overlay's allocated
bytes at RESULT. The native instance writes into the shared rootfs: it has no layer of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.images.vmdisk import allocated_bytes
from bench.model.sample import SampleSink
from bench.model.units import MIB



@dataclass(frozen=True)
class Footprint:
    bytes: int
    how: str


def record(sink: SampleSink, metric: str, footprint: Footprint | None) -> None:
    """`image_mib` (what the platform's image occupies) or `instance_disk_mib` (what one instance added)."""
    if footprint is not None:
        sink.add(metric, footprint.bytes / MIB, "MiB", probe=footprint.how)


def tree_allocated(root: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total + os.lstat(root).st_blocks * 512


def files_allocated(paths: list[Path]) -> int:
    return sum(allocated_bytes(p) for p in paths)


def filesystem_of(path: Path) -> str:
    """The file system holding `path`, e.g. "ext4 on /dev/vda1 (mounted at /)"."""
    target = str(path.resolve())
    best = None
    for part in psutil.disk_partitions(all=True):
        mount = part.mountpoint.rstrip("/") or "/"
        if (target == mount or target.startswith(mount.rstrip("/") + "/")) and \
                (best is None or len(mount) >= len(best.mountpoint.rstrip("/") or "/")):
            best = part
    if best is None:
        return "unknown"
    return f"{best.fstype} on {best.device} (mounted at {best.mountpoint})"
