"""libvirt VM: a transient domain per trial on its own qcow2 overlay of the image's base.

The suite's CPUs become vCPUs pinned to the same host CPUs, its memory the guest's RAM. Two
boot profiles of the same kernel, initramfs and disk: `vm` (shown as vm-minimal) switches from
the initramfs straight into the launcher; `vm-os` boots the image's own init (systemd) to its
default target, where a unit starts the launcher.
"""

from __future__ import annotations

from pathlib import Path

import libvirt

from bench import config
from bench.guest.vm import GuestSpec, GuestVM, device_model
from bench.host import engines
from bench.images import engine_disk, vmdisk
from bench.images.engine_disk import EngineDisk
from bench.model.registry import BY_NAME, Platform
from bench.model.resources import Resources
from bench.net.network import RunNetwork
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes import isolation
from bench.probes.disk import Footprint, files_allocated, filesystem_of
from bench.progress import Progress

QEMU_PID_DIR = Path("/run/libvirt/qemu")


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


class VMInstance(Instance):
    platform = "vm"

    def __init__(self, ctx: TrialContext, conn: libvirt.virConnect, accel: str, cpu_mode: str,
                 resources: Resources, platform: Platform, network: RunNetwork | None = None,
                 engine: EngineDisk | None = None):
        super().__init__(ctx)
        self.base = _base_disk(ctx, engine)
        self.platform = platform.name
        profile = platform.boot_profile
        self.overlay = instances_dir() / f"{ctx.name(self.platform)}.qcow2"
        cmdline = f"console=ttyS0 panic=-1 root=/dev/vda bench.workload={ctx.launch_name}{PROFILE_ARGS[profile]}"
        if ctx.user_image is not None:
            cmdline += f" bench.launcher={ctx.launcher}"
        self.network = network.path(ctx.instance) if network is not None else None
        if network is not None:
            # The harness's init gives eth0 this address and hands the host's on to the launcher.
            cmdline += f" bench.net={network.guest_address(ctx.instance)},{network.host_address}"
        spec = GuestSpec(
            name=ctx.name(self.platform), run_id=ctx.run_id, accel=accel, cpu_mode=cpu_mode,
            kernel=Path(ctx.manifest.kernel.path),
            initramfs=Path(ctx.manifest.initramfs.path), cmdline=cmdline,
            memory_mib=resources.memory_mib, vcpus=resources.cpus, cpuset=resources.cpuset_text,
            disk=self.overlay, network=network.name if network else None)
        self.conn = conn
        self.guest = GuestVM(conn, spec)
        self.console = self.guest.console
        self.guest_ram_bytes = resources.memory_bytes
        self._qemu_pid: int | None = None
        self.facts["boot_profile"] = PROFILE_FACTS[profile]
        if engine is not None:
            self.facts["container_network"] = ("host: the guest's own network namespace, its eth0" if network is not None
                                               else "none")
            image = ctx.manifest.container_image
            run_by_engine = (f"{ctx.user_image.id} ({ctx.user_image.source})" if ctx.user_image is not None
                             else f"{image.sha256} ({image.path})")
            self.facts.update(engine_disk=f"{engine.sha256[:16]} ({engine.path})",
                              image=f"{run_by_engine}, the same image id as the host's docker platform")
        self.facts.update(accel=accel, cpu_mode=cpu_mode if accel == "kvm" else "qemu default (emulated)")
        self.facts.update(isolation.own_kernel(ctx.manifest.kernel_release, accel))
        self.facts["storage"] = (f"ext4 in the guest on virtio-blk; its qcow2 overlay on {filesystem_of(self.overlay.parent)}, "
                                 "cache=none (QEMU opens it O_DIRECT: no host page cache), io=native; the guest's own page cache (O_DIRECT bypasses it)")

    def setup(self) -> None:
        vmdisk.create_overlay(self.base, self.overlay)

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

    def __init__(self, resources: Resources, accel: str, cpu_mode: str, platform: Platform = BY_NAME["vm"],
                 progress: Progress | None = None):
        super().__init__(resources)
        self.progress = progress or Progress(quiet=True)
        self.engines: dict[str, EngineDisk] = {}  # vm-docker: by image id, made on first use
        self.platform = platform
        self.name = platform.name
        engines.libvirt_connection().close()  # fails now, with one line, if libvirtd is down
        self.accel, self.cpu_mode = accel, cpu_mode
        self.network: RunNetwork | None = None  # made when the run's first network workload needs it

    def instance_facts(self) -> dict[str, str]:
        # The guest's processes are its own kernel's: the host sees QEMU's threads, whatever forks inside.
        return {**self.resources.describe(), "pids_max": "none on the host (the guest kernel's own processes)"}

    def prepare(self, ctx: TrialContext) -> Instance:
        if ctx.workload.network and self.network is None:
            self.network = RunNetwork.create(engines.libvirt_connection(), ctx.run_id, self.name)
        # A connection of its own: a console stream blocked in recv on a shared connection
        # stalls every other call on it, so a second running VM (density) would hang the first
        # call made for it. It also scopes autodestroy to this one guest.
        return VMInstance(ctx, engines.libvirt_connection(), self.accel, self.cpu_mode, self.resources,
                          self.platform, self.network if ctx.workload.network else None, self._engine(ctx))

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

    def close(self) -> None:
        if self.network is not None:
            self.network.destroy()
            try:
                self.network.conn.close()
            except libvirt.libvirtError:
                pass
            self.network = None

    def _measure_image(self, ctx: TrialContext) -> Footprint:
        manifest = ctx.manifest
        paths = [_base_disk(ctx, self._engine(ctx)), Path(manifest.kernel.path), Path(manifest.initramfs.path)]
        return Footprint(files_allocated(paths), "qcow2 base + kernel + initramfs, allocated bytes")


def _base_disk(ctx: TrialContext, engine: EngineDisk | None) -> Path:
    """The qcow2 base an instance's overlay is made on: vm-docker's engine disk, a user's image's
    disk, or the rootfs's."""
    if engine is not None:
        return engine.path
    return ctx.user_image.vm_disk if ctx.user_image is not None else Path(ctx.manifest.vm_disk.path)
