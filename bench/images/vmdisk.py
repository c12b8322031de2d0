"""The VM's disk: an ext4 image of the root filesystem directory, converted to a qcow2 base.

Instances never write the base: each gets its own qcow2 overlay backed by it.

The same tree gives the same bytes on every host: mkfs.ext4 would pick a random UUID and
directory hash seed, stamp the current time and copy each file's change and access times
(when it was unpacked here); the UUID and seed are derived from the disk's identity, the
file system's times are SOURCE_DATE_EPOCH's, and every inode's access, change and creation
times are set to it afterwards (debugfs). mke2fs adds files in sorted order (LC_ALL=C).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from bench.host.proc import run
from bench.images.rootfs import SOURCE_DATE_EPOCH

MIN_SIZE_MIB = 4096  # room for workloads that write (fio files) on top of the image
NAMESPACE = uuid.UUID("6d1f4a52-3c55-4f0e-9a43-2b0f3f1b8c11")  # the harness's: disk UUIDs are derived in it
PINNED = tuple((f"{t}{suffix}", SOURCE_DATE_EPOCH if not suffix else "0")
               for t in ("atime", "ctime", "crtime") for suffix in ("", "_extra"))


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def build_base(rootfs: Path, out_qcow2: Path, work: Path, identity: str) -> None:
    """`identity`: what names the tree's content (its tarball's digest, an image id): the
    file system's UUID and hash seed come from it."""
    size_mib = max(MIN_SIZE_MIB, 2 * tree_bytes(rootfs) // 2**20 + 512)
    raw = work / "disk.raw"
    run(["mkfs.ext4", "-q", "-F", "-L", "vmctb-root", "-U", derived_uuid(identity, "uuid"),
         "-E", f"hash_seed={derived_uuid(identity, 'hash_seed')}", "-d", rootfs, raw, f"{size_mib}M"],
        "vm disk: mkfs.ext4", env=fixed_time_env())
    try:
        pin_inode_times(raw, work)
        run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, out_qcow2], "vm disk: qemu-img convert")
    finally:
        raw.unlink(missing_ok=True)


def derived_uuid(identity: str, role: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{role}:{identity}"))


def used_inodes(dumpe2fs: str) -> list[int]:
    """The inode numbers in use, from `dumpe2fs` output: each group's range minus its free ones."""
    per_group = int(re.search(r"^Inodes per group:\s+(\d+)", dumpe2fs, re.MULTILINE).group(1))
    used: list[int] = []
    for group, free_text in enumerate(re.findall(r"^\s+Free inodes: ?(.*)$", dumpe2fs, re.MULTILINE)):
        free: set[int] = set()
        for part in filter(None, (p.strip() for p in free_text.split(","))):
            low, _, high = part.partition("-")
            free.update(range(int(low), int(high or low) + 1))
        first = group * per_group + 1
        used += [n for n in range(first, first + per_group) if n not in free]
    return used


def fixed_time_env() -> dict[str, str]:
    """e2fsprogs' clock (superblock times) at SOURCE_DATE_EPOCH; sorting by bytes."""
    return {**os.environ, "E2FSPROGS_FAKE_TIME": SOURCE_DATE_EPOCH, "LC_ALL": "C"}


def pin_inode_times(raw: Path, work: Path) -> None:
    """Every used inode's access, change and creation time set to SOURCE_DATE_EPOCH."""
    inodes = used_inodes(run(["dumpe2fs", raw], "vm disk: dumpe2fs"))
    commands = work / "pin-times.debugfs"
    commands.write_text("".join(f"sif <{n}> {field} {value}\n" for n in inodes for field, value in PINNED))
    run(["debugfs", "-w", "-f", commands, raw], "vm disk: debugfs (inode times)", env=fixed_time_env())
    commands.unlink()


def create_overlay(base: Path, overlay: Path, base_format: str = "qcow2") -> None:
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", base_format, overlay],
        f"vm disk: overlay {overlay.name}")


def allocated_bytes(image: Path) -> int:
    """Bytes the image really occupies on the host (what `du` counts), not its virtual size."""
    return image.stat().st_blocks * 512
