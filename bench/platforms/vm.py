"""libvirt VM: a transient domain per trial on its own qcow2 overlay of the image's base.

The suite's CPUs become vCPUs pinned to the same host CPUs, its memory the guest's RAM. Two
boot profiles of the same kernel, initramfs and disk: `vm` (shown as vm-minimal) switches from
the initramfs straight into the launcher; `vm-os` boots the image's own init (systemd) to its
default target, where a unit starts the launcher.
"""

from __future__ import annotations

from pathlib import Path

import libvirt

from bench.guest.vm import GuestSpec, GuestVM, device_model
from bench.host import engines
from bench.images import engine_disk
from bench.images.engine_disk import EngineDisk
from bench.model.registry import BY_NAME, Platform
from bench.model.resources import Resources
from bench.net.network import RunNetwork
from bench.platforms import vmboot
from bench.platforms.base import Instance, TrialContext
from bench.platforms.vmboot import instances_dir
from bench.probes.disk import Footprint
from bench.progress import Progress

QEMU_PID_DIR = Path("/run/libvirt/qemu")


class VMInstance(vmboot.OverlayVM):
    platform = "vm"

    def __init__(self, ctx: TrialContext, conn: libvirt.virConnect, accel: str, cpu_mode: str,
                 resources: Resources, platform: Platform, base: vmboot.BaseDisk, network: RunNetwork | None = None,
                 engine: EngineDisk | None = None):
        super().__init__(ctx)
        self.base = base
        self.platform = platform.name
        self.overlay = instances_dir() / f"{ctx.name(self.platform)}.qcow2"
        self.nvram = instances_dir() / f"{ctx.name(self.platform)}.vars.fd" if platform.firmware == "ovmf" else None
        cmdline = vmboot.kernel_cmdline(ctx, platform)
        self.network = network.path(ctx.instance) if network is not None else None
        if network is not None:
            # The harness's init gives eth0 this address and hands the host's on to the launcher.
            cmdline += f" bench.net={network.guest_address(ctx.instance)},{network.host_address}"
        spec = GuestSpec(
            name=ctx.name(self.platform), run_id=ctx.run_id, accel=accel, cpu_mode=cpu_mode,
            kernel=Path(ctx.manifest.kernel.path),
            initramfs=Path(ctx.manifest.initramfs.path), cmdline=cmdline,
            memory_mib=resources.memory_mib, vcpus=resources.cpus, cpuset=resources.cpuset_text,
            disk=self.overlay, network=network.name if network else None,
            machine=platform.machine or "pc", nvram=self.nvram)
        self.conn = conn
        self.guest = GuestVM(conn, spec)
        self.console = self.guest.console
        self.guest_ram_bytes = resources.memory_bytes
        self._qemu_pid: int | None = None
        self.facts.update(vmboot.facts(ctx, platform, accel, cpu_mode, self.overlay, "libvirt: QEMU started and owned by libvirtd (qemu:///system)"))
        if base.converted is not None:
            self.facts["disk_format"] = base.converted.describe()
        if engine is not None:
            self.facts["container_network"] = ("host: the guest's own network namespace, its eth0" if network is not None
                                               else "none")
            image = ctx.manifest.container_image
            run_by_engine = (f"{ctx.user_image.id} ({ctx.user_image.source})" if ctx.user_image is not None
                             else f"{image.sha256} ({image.path})")
            self.facts.update(engine_disk=f"{engine.sha256[:16]} ({engine.path})",
                              image=f"{run_by_engine}, the same image id as the host's docker platform")

    def setup(self) -> None:
        self.make_overlay()

    def start(self) -> None:
        self.guest.start()
        self.phases["domain_created"] = self.guest.created_ns or 0
        self.phases["resumed"] = self.guest.resumed_ns or 0
        if self.ctx.workload.kind_traits.exposure_report and self.guest.domain is not None:  # after the timed start
            self.facts["vmm.devices"] = device_model(self.guest.domain.XMLDesc(0))

    def release_tree_probe(self) -> None:
        self.guest.send(b"tree\n")  # the launcher reads its console

    def host_pids(self) -> list[int]:
        if self._qemu_pid is None and self.guest.resumed_ns is not None:
            try:
                self._qemu_pid = int((QEMU_PID_DIR / f"{self.guest.spec.name}.pid").read_text())
            except (OSError, ValueError):
                return []
        return [] if self._qemu_pid is None else [self._qemu_pid]

    def teardown(self) -> None:
        try:
            self.guest.destroy()
        finally:
            self.remove_files()
            try:
                self.conn.close()
            except libvirt.libvirtError:
                pass


class VMDriver(vmboot.VMDriverBase):
    name = "vm"

    def __init__(self, resources: Resources, accel: str, cpu_mode: str, platform: Platform = BY_NAME["vm"],
                 progress: Progress | None = None):
        super().__init__(resources)
        self.progress = progress or Progress(quiet=True)
        self.engines: dict[str, EngineDisk] = {}  # vm-docker: by image id, made on first use
        self.platform = platform
        self.name = platform.name
        engines.libvirt_connection().close()  # fails now, with one line, if libvirtd is down
        self.accel, self.cpu_mode = accel, cpu_mode

    def prepare(self, ctx: TrialContext) -> Instance:
        network = self.network_for(ctx)
        # A connection of its own: a console stream blocked in recv on a shared connection
        # stalls every other call on it, so a second running VM (density) would hang the first
        # call made for it. It also scopes autodestroy to this one guest.
        return VMInstance(ctx, engines.libvirt_connection(), self.accel, self.cpu_mode, self.resources,
                          self.platform, self._base(ctx), network,
                          self._engine(ctx))

    def _base(self, ctx: TrialContext) -> vmboot.BaseDisk:
        if (engine := self._engine(ctx)) is not None:
            return vmboot.base_disk(ctx, engine)
        return vmboot.converted_base(ctx, self.platform, self.progress)

    def artifact_digest(self, ctx: TrialContext) -> str:
        return self._base(ctx).sha256

    def _engine(self, ctx: TrialContext) -> EngineDisk | None:
        """vm-docker's disk for the image the trial's container runs."""
        if self.platform.boot_profile != "docker":
            return None
        image = ctx.user_image.id if ctx.user_image is not None else ctx.manifest.container_image.sha256
        if image not in self.engines:
            self.engines[image] = (engine_disk.ensure_for_user_image(ctx.user_image, ctx.manifest, self.progress)
                                   if ctx.user_image is not None else
                                   engine_disk.ensure(engines.docker_client(), ctx.manifest, self.progress))
        return self.engines[image]

    def _measure_image(self, ctx: TrialContext) -> Footprint:
        return vmboot.image_footprint(ctx, self._base(ctx))

