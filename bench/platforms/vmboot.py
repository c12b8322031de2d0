"""What every VM platform shares, whichever VMM runs it (libvirt, or QEMU directly): the
per-instance directory, the kernel command line of each boot profile, the disk an instance's
overlay is made on, and the facts every VM trial records."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import libvirt

from bench import config
from bench.guest import bootlines
from bench.images import disk_formats, vmdisk
from bench.images.disk_formats import ConvertedDisk
from bench.images.engine_disk import EngineDisk
from bench.model.registry import FIRMWARES, Platform
from bench.net.network import RunNetwork
from bench.host import engines
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes import isolation
from bench.probes.disk import Footprint, files_allocated, filesystem_of
from bench.progress import Progress


def instances_dir() -> Path:
    path = config.cache_dir() / "instances"
    path.mkdir(parents=True, exist_ok=True)
    return path


# What the kernel command line adds for each profile. systemd would print its progress on the
# console the launcher writes to.
PROFILE_ARGS = {"minimal": "", "os": " bench.init=os systemd.show_status=false", "docker": " bench.init=docker"}
PROFILE_FACTS = {"minimal": "minimal: the harness's initramfs switches straight into the launcher",
                 "os": "full OS: the image's systemd boots to multi-user.target, a unit starts the launcher",
                 "docker": "container host: the initramfs switches into a Debian with docker.io, whose dockerd "
                           "starts the container image's launcher (docker create, docker start)"}
MACHINES = {"pc": "pc (i440FX, PCI, ACPI)", "q35": "q35 (PCIe, ACPI)",
            "microvm": "microvm (no PCI: virtio-mmio devices, a minimal ACPI, no option ROMs)"}


def kernel_cmdline(ctx: TrialContext, platform: Platform) -> str:
    cmdline = (f"console=ttyS0 panic=-1 root=/dev/vda bench.workload={ctx.launch_name}"
               f"{PROFILE_ARGS[platform.boot_profile]}")
    if ctx.user_image is not None:
        cmdline += f" bench.launcher={ctx.launcher}"
    return cmdline


@dataclass(frozen=True)
class BaseDisk:
    """The disk an instance's qcow2 overlay is made on, and its digest."""
    path: Path
    sha256: str
    format: str = "qcow2"
    converted: ConvertedDisk | None = None  # another hypervisor's format, converted from the qcow2 base


def base_disk(ctx: TrialContext, engine: EngineDisk | None = None) -> BaseDisk:
    """The qcow2 base an instance's overlay is made on: vm-docker's engine disk, a user's image's
    disk, or the rootfs's."""
    if engine is not None:
        return BaseDisk(engine.path, engine.sha256)
    if ctx.user_image is not None:
        return BaseDisk(ctx.user_image.vm_disk, ctx.user_image.vm_disk_sha256)
    return BaseDisk(Path(ctx.manifest.vm_disk.path), ctx.manifest.vm_disk.sha256)


def converted_base(ctx: TrialContext, platform: Platform, progress: Progress) -> BaseDisk:
    """The base disk in the platform's format: the qcow2 base itself, or converted from it."""
    base = base_disk(ctx)
    if platform.disk_format == "qcow2":
        return base
    converted = disk_formats.ensure(base.path, base.sha256, platform.disk_format, progress)
    return BaseDisk(converted.path, converted.sha256, converted.format, converted)


def image_footprint(ctx: TrialContext, base: BaseDisk) -> Footprint:
    paths = [base.path, Path(ctx.manifest.kernel.path), Path(ctx.manifest.initramfs.path)]
    return Footprint(files_allocated(paths), f"{base.format} base + kernel + initramfs, allocated bytes")


class VMDriverBase(Driver):
    """What both VM drivers share: the guest's processes are its own kernel's (no host pids
    limit), and the run's VM network, made when its first network workload needs it and
    destroyed when the driver closes."""

    name: str
    network: RunNetwork | None = None

    def instance_facts(self) -> dict[str, str]:
        return {**self.resources.describe(), "pids_max": "none on the host (the guest kernel's own processes)"}

    def network_for(self, ctx: TrialContext) -> RunNetwork | None:
        """The run's network for a network workload (made on first use), else None."""
        if not ctx.workload.network:
            return None
        if self.network is None:
            self.network = RunNetwork.create(engines.libvirt_connection(), ctx.run_id, self.name)
        return self.network

    def close(self) -> None:
        """Destroy the run's VM network and close its connection. Safe to call twice."""
        if self.network is not None:
            self.network.destroy()
            with contextlib.suppress(libvirt.libvirtError):
                self.network.conn.close()
        self.network = None


def facts(ctx: TrialContext, platform: Platform, accel: str, cpu_mode: str, overlay: Path, vmm: str) -> dict[str, str]:
    """What every VM trial records about its machine."""
    return {
        "boot_profile": PROFILE_FACTS[platform.boot_profile],
        "vmm": vmm,
        "machine": MACHINES.get(platform.machine, platform.machine),
        "firmware": FIRMWARES.get(platform.firmware, platform.firmware),
        "accel": accel, "cpu_mode": cpu_mode if accel == "kvm" else "qemu default (emulated)",
        **isolation.own_kernel(ctx.manifest.kernel_release, accel),
        "storage": (f"ext4 in the guest on virtio-blk; its qcow2 overlay on {filesystem_of(overlay.parent)}, "
                    "cache=none (QEMU opens it O_DIRECT: no host page cache), io=native; the guest's own page "
                    "cache (O_DIRECT bypasses it)"),
    }


class OverlayVM(Instance):
    """What every VM instance has: a qcow2 overlay of its own on a base disk (and, under UEFI, its
    own copy of the firmware's variable store), and a boot read off its console."""
    base: BaseDisk
    overlay: Path
    nvram: Path | None = None

    def make_overlay(self) -> None:
        vmdisk.create_overlay(self.base.path, self.overlay, self.base.format)

    def boot_events(self) -> dict[str, int]:
        return bootlines.boot_events(self.console)

    def disk_growth(self) -> Footprint | None:
        try:
            return Footprint(vmdisk.allocated_bytes(self.overlay), "qcow2 overlay, allocated bytes")
        except OSError:
            return None

    def remove_files(self) -> None:
        self.overlay.unlink(missing_ok=True)
        if self.nvram is not None:
            self.nvram.unlink(missing_ok=True)
