"""libvirt VM: a transient domain per trial on its own qcow2 overlay of the image's base."""

from __future__ import annotations

from pathlib import Path

import libvirt

from bench import config, engines
from bench.guest_vm import GuestSpec, GuestVM
from bench.images import vmdisk
from bench.platforms.base import Driver, Instance, TrialContext

MEMORY_MIB = 512
VCPUS = 1


def instances_dir() -> Path:
    path = config.cache_dir() / "instances"
    path.mkdir(parents=True, exist_ok=True)
    return path


class VMInstance(Instance):
    platform = "vm"

    def __init__(self, ctx: TrialContext, conn: libvirt.virConnect, accel: str, cpu_mode: str):
        super().__init__(ctx)
        self.overlay = instances_dir() / f"{ctx.name(self.platform)}.qcow2"
        spec = GuestSpec(
            name=ctx.name(self.platform), run_id=ctx.run_id, accel=accel, cpu_mode=cpu_mode,
            kernel=Path(ctx.manifest.kernel.path),
            initramfs=Path(ctx.manifest.initramfs.path),
            cmdline=f"console=ttyS0 panic=-1 root=/dev/vda bench.workload={ctx.workload.name}",
            memory_mib=MEMORY_MIB, vcpus=VCPUS, disk=self.overlay)
        self.guest = GuestVM(conn, spec)
        self.console = self.guest.console
        self.facts.update(accel=accel, cpu_mode=cpu_mode if accel == "kvm" else "qemu default (emulated)",
                          memory_mib=str(MEMORY_MIB), vcpus=str(VCPUS))

    def setup(self) -> None:
        vmdisk.create_overlay(Path(self.ctx.manifest.vm_disk.path), self.overlay)

    def start(self) -> None:
        self.guest.start()
        self.phases["domain_created"] = self.guest.created_ns or 0
        self.phases["resumed"] = self.guest.resumed_ns or 0

    def teardown(self) -> None:
        try:
            self.guest.destroy()
        finally:
            self.overlay.unlink(missing_ok=True)


class VMDriver(Driver):
    name = "vm"

    def __init__(self, accel: str, cpu_mode: str):
        self.conn = engines.libvirt_connection()
        self.accel, self.cpu_mode = accel, cpu_mode

    def prepare(self, ctx: TrialContext) -> Instance:
        return VMInstance(ctx, self.conn, self.accel, self.cpu_mode)
