"""The VM disk in another hypervisor's format: the qcow2 base converted by `qemu-img convert`,
timed and measured once per base and format, cached under disks/<key>/. QEMU reads them all:
what they show is what a move to VMware, Hyper-V or VirtualBox costs (a conversion, its time
and its size), and that the converted disk still boots the same user space."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.host import files
from bench.host.proc import run
from bench.images import store, vmdisk
from bench.model.registry import DISK_FORMATS
from bench.progress import Progress

RECIPE = 1
DISK_JSON = "disk.json"


@dataclass(frozen=True)
class ConvertedDisk:
    path: Path
    format: str
    source: str  # what was converted: the base's digest, or a user image's id
    seconds: float  # qemu-img convert, when it was made
    allocated_bytes: int
    sha256: str

    def describe(self) -> str:
        return (f"{self.format} ({DISK_FORMATS[self.format]}): the qcow2 base converted by qemu-img convert in "
                f"{self.seconds:.1f} s (when first made), {self.allocated_bytes / 2**20:.0f} MiB allocated, "
                f"sha256 {self.sha256[:16]}")


def ensure(base: Path, source: str, fmt: str, progress: Progress) -> ConvertedDisk:
    final = store.entry("disks", store.digest({"recipe": RECIPE, "source": source, "format": fmt}))
    if (final / DISK_JSON).is_file():
        data = json.loads((final / DISK_JSON).read_text())
        return ConvertedDisk(**{**data, "path": final / Path(data["path"]).name})
    with store.building(final) as tmp, progress.step(f"vm disk: qemu-img convert to {fmt}"):
        out = tmp / f"disk.{fmt}"
        started = time.monotonic()
        run(["qemu-img", "convert", "-f", "qcow2", "-O", fmt, base, out], f"vm disk: qemu-img convert to {fmt}")
        seconds = time.monotonic() - started
        disk = ConvertedDisk(final / out.name, fmt, source, round(seconds, 3), vmdisk.allocated_bytes(out),
                             store.sha256_file(out))
        files.write_json(tmp / DISK_JSON, {**asdict(disk), "path": str(disk.path)})
    return disk
