"""libvirt VM: a transient domain per trial on its own qcow2 overlay of the image's base.

The suite's CPUs become vCPUs pinned to the same host CPUs, its memory the guest's RAM.
"""

from __future__ import annotations

from pathlib import Path

import libvirt

from bench import config, engines
from bench.guest_vm import GuestSpec, GuestVM
from bench.images import vmdisk
from bench.images.manifest import Manifest
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes import isolation
from bench.probes.disk import Footprint, files_allocated, filesystem_of
from bench.resources import Resources

QEMU_PID_DIR = Path("/run/libvirt/qemu")


def instances_dir() -> Path:
    path = config.cache_dir() / "instances"
    path.mkdir(parents=True, exist_ok=True)
    return path


class VMInstance(Instance):
    platform = "vm"

    def __init__(self, ctx: TrialContext, conn: libvirt.virConnect, accel: str, cpu_mode: str,
                 resources: Resources):
        super().__init__(ctx)
        self.overlay = instances_dir() / f"{ctx.name(self.platform)}.qcow2"
        spec = GuestSpec(
            name=ctx.name(self.platform), run_id=ctx.run_id, accel=accel, cpu_mode=cpu_mode,
            kernel=Path(ctx.manifest.kernel.path),
            initramfs=Path(ctx.manifest.initramfs.path),
            cmdline=f"console=ttyS0 panic=-1 root=/dev/vda bench.workload={ctx.workload.name}",
            memory_mib=resources.memory_mib, vcpus=resources.cpus, cpuset=resources.cpuset_text,
            disk=self.overlay)
        self.conn = conn
        self.guest = GuestVM(conn, spec)
        self.console = self.guest.console
        self.guest_ram_bytes = resources.memory_bytes
        self._qemu_pid: int | None = None
        self.facts.update(accel=accel, cpu_mode=cpu_mode if accel == "kvm" else "qemu default (emulated)")
        self.facts.update(isolation.own_kernel(ctx.manifest.kernel_release, accel))
        self.facts["storage"] = (f"ext4 in the guest on virtio-blk; its qcow2 overlay on {filesystem_of(self.overlay.parent)}, "
                                 "cache=none (QEMU opens it O_DIRECT: no host page cache), io=native; the guest's own page cache (O_DIRECT bypasses it)")

    def setup(self) -> None:
        vmdisk.create_overlay(Path(self.ctx.manifest.vm_disk.path), self.overlay)

    def start(self) -> None:
        self.guest.start()
        self.phases["domain_created"] = self.guest.created_ns or 0
        self.phases["resumed"] = self.guest.resumed_ns or 0

    def host_pids(self) -> list[int]:
        if self._qemu_pid is None and self.guest.resumed_ns is not None:
            try:
                self._qemu_pid = int((QEMU_PID_DIR / f"{self.guest.spec.name}.pid").read_text())
            except (OSError, ValueError):
                return []
        return [] if self._qemu_pid is None else [self._qemu_pid]

    def disk_growth(self) -> Footprint | None:
        try:
            return Footprint(vmdisk.allocated_bytes(self.overlay), "qcow2 overlay, allocated bytes")
        except OSError:
            return None

    def teardown(self) -> None:
        try:
            self.guest.destroy()
        finally:
            self.overlay.unlink(missing_ok=True)
            try:
                self.conn.close()
            except libvirt.libvirtError:
                pass


class VMDriver(Driver):
    name = "vm"

    def __init__(self, resources: Resources, accel: str, cpu_mode: str):
        super().__init__(resources)
        engines.libvirt_connection().close()  # fails now, with one line, if libvirtd is down
        self.accel, self.cpu_mode = accel, cpu_mode

    def prepare(self, ctx: TrialContext) -> Instance:
        # A connection of its own: a console stream blocked in recv on a shared connection
        # stalls every other call on it, so a second running VM (density) would hang the first
        # call made for it. It also scopes autodestroy to this one guest.
        return VMInstance(ctx, engines.libvirt_connection(), self.accel, self.cpu_mode, self.resources)

    def _measure_image(self, manifest: Manifest) -> Footprint:
        paths = [Path(manifest.vm_disk.path), Path(manifest.kernel.path), Path(manifest.initramfs.path)]
        return Footprint(files_allocated(paths), "qcow2 base + kernel + initramfs, allocated bytes")
