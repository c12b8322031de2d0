"""The VM's disk: an ext4 image of the root filesystem directory, converted to a qcow2 base.

Instances never write the base: each gets its own qcow2 overlay backed by it.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.host.proc import run

MIN_SIZE_MIB = 4096  # room for workloads that write (fio files) on top of the image


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def build_base(rootfs: Path, out_qcow2: Path, work: Path) -> None:
    size_mib = max(MIN_SIZE_MIB, 2 * tree_bytes(rootfs) // 2**20 + 512)
    raw = work / "disk.raw"
    run(["mkfs.ext4", "-q", "-F", "-L", "vmctb-root", "-d", rootfs, raw, f"{size_mib}M"],
        "vm disk: mkfs.ext4")
    try:
        run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, out_qcow2], "vm disk: qemu-img convert")
    finally:
        raw.unlink(missing_ok=True)


def create_overlay(base: Path, overlay: Path) -> None:
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay],
        f"vm disk: overlay {overlay.name}")


def allocated_bytes(image: Path) -> int:
    """Bytes the image really occupies on the host (what `du` counts), not its virtual size."""
    return image.stat().st_blocks * 512
