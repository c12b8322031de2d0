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


@dataclass(frozen=True)
class Footprint:
    bytes: int
    how: str


def allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


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
    return sum(allocated(p) for p in paths)
