"""QEMU run directly, without libvirt: `vm-micro` (the microvm machine with qboot) and
`vm-qemu` (the same PC machine libvirt gives `vm`). The driver owns each QEMU process
(guest/qemu.py), as Firecracker's test framework owns its VMM: its console, its QMP socket,
its cgroup, its CPUs and its teardown.

libvirt 9.0 has no microvm support, and its command-line passthrough would leave a domain
whose devices libvirt believes are PCI; running QEMU directly also shows, beside `vm`, what
libvirt itself adds to a VM's start.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.guest.qemu import OVMF_VARS, QEMU, QemuProcess, QemuSpec
from bench.host import tsc
from bench.host.cgroup import MemoryCgroup
from bench.host.proc import run
from bench.model.registry import Platform
from bench.net import tap
from bench.net.network import RunNetwork
from bench.model.resources import Resources
from bench.platforms import vmboot
from bench.platforms.base import Instance, TrialContext
from bench.platforms.vmboot import instances_dir
from bench.probes.disk import Footprint

VMM = "QEMU run directly by the harness (no libvirt): {version}"


class QemuInstance(vmboot.OverlayVM):
    host_processes = "the QEMU process (its threads included)"

    def __init__(self, ctx: TrialContext, platform: Platform, accel: str, cpu_mode: str, resources: Resources,
                 version: str, network: RunNetwork | None = None):
        super().__init__(ctx)
        self.platform = platform.name
        self.resources = resources
        name = ctx.name(self.platform)
        self.base = vmboot.base_disk(ctx)
        self.overlay = instances_dir() / f"{name}.qcow2"
        self.nvram = instances_dir() / f"{name}.vars.fd" if platform.firmware == "ovmf" else None
        cmdline = vmboot.kernel_cmdline(ctx, platform)
        if platform.machine == "microvm" and accel == "tcg":
            cmdline += f" tsc_early_khz={tsc.rate_khz()}"
        self.run_network = network
        if network is not None:
            self.network = network.path(ctx.instance, link=f"virtio-net on a tap device ({tap.name_for(name)}), the guest")
            cmdline += f" bench.net={network.guest_address(ctx.instance)},{network.host_address}"
        self.spec = QemuSpec(name=name, accel=accel, machine=platform.machine, firmware=platform.firmware,
                             kernel=Path(ctx.manifest.kernel.path), initramfs=Path(ctx.manifest.initramfs.path),
                             cmdline=cmdline, socket_dir=instances_dir(), memory_mib=resources.memory_mib,
                             vcpus=resources.cpus, disk=self.overlay,
                             cpu_mode=cpu_mode, nvram=self.nvram,
                             tap=tap.name_for(name) if network is not None else None)
        self.cgroup: MemoryCgroup | None = None
        self.qemu = QemuProcess(self.spec, self._enter_limits)
        self.console = self.qemu.console
        self.guest_ram_bytes = resources.memory_bytes
        self.facts.update(vmboot.facts(ctx, platform, accel, cpu_mode, self.overlay, VMM.format(version=version)))
        if platform.machine == "microvm" and accel == "tcg":
            self.facts["clock"] = (f"tsc_early_khz={tsc.rate_khz()}: the host's TSC rate, which a TCG guest's "
                                   "TSC runs at; microvm gives its kernel nothing to calibrate against")

    def setup(self) -> None:
        self.make_overlay()
        if self.nvram is not None:
            shutil.copyfile(OVMF_VARS, self.nvram)
        self.cgroup, self.facts["memory_limit"] = MemoryCgroup.create(self.spec.name, 0)
        if self.run_network is not None:
            tap.create(self.spec.name, self.run_network.bridge)

    def _enter_limits(self) -> None:  # in the child, between fork and exec
        os.sched_setaffinity(0, self.resources.cpuset)
        if self.cgroup is not None:
            self.cgroup.join_from_child()

    def start(self) -> None:
        self.qemu.start()
        self.phases["qemu_started"] = self.qemu.started_ns or 0
        self.phases["resumed"] = self.qemu.resumed_ns or 0

    def release_tree_probe(self) -> None:
        self.qemu.send(b"tree\n")  # the launcher reads its console

    def host_pids(self) -> list[int]:
        pid = self.qemu.pid
        return [pid] if pid is not None and self.qemu.resumed_ns is not None else []

    def teardown(self) -> None:
        try:
            self.qemu.destroy()
        finally:
            if self.cgroup is not None:
                self.cgroup.kill_members()
                self.cgroup.remove()
            if self.spec.tap is not None:
                tap.remove(self.spec.tap)
            self.remove_files()


class QemuDriver(vmboot.VMDriverBase):
    def __init__(self, resources: Resources, accel: str, cpu_mode: str, platform: Platform):
        super().__init__(resources)
        self.platform, self.name = platform, platform.name
        self.accel, self.cpu_mode = accel, cpu_mode
        self.version = version()

    def prepare(self, ctx: TrialContext) -> Instance:
        return QemuInstance(ctx, self.platform, self.accel, self.cpu_mode, self.resources, self.version,
                            self.network_for(ctx))

    def _measure_image(self, ctx: TrialContext) -> Footprint:
        return vmboot.image_footprint(ctx, vmboot.base_disk(ctx))

    def artifact_digest(self, ctx: TrialContext) -> str:
        return vmboot.base_disk(ctx).sha256


def version() -> str:
    """QEMU's version line; a one-line error when it is not installed."""
    return run([QEMU, "--version"], f"{QEMU} --version").splitlines()[0].strip()
