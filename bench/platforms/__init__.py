"""Platform drivers behind one interface (base.py): native (chroot), container (Docker, with its
variants and any OCI runtime), podman, lxc, vm (libvirt), qemu (QEMU run directly). Which platforms exist, and with which options, is
declared once, in model/registry.py."""

from __future__ import annotations

from bench.errors import BenchError
from bench.guest import qemu
from bench.model import registry
from bench.model.resources import Resources
from bench.platforms.base import Driver
from bench.progress import Progress

# A VM's accelerator and CPU mode, as the operations' accelerator choice gives them.
VMAccel = tuple[str, str]


def preflight(names: tuple[str, ...], networked: tuple[str, ...] = ()) -> None:
    """What can be checked before a run starts: each name is a platform, Podman is installed
    where a platform needs it, each runtime a Docker platform asks for is registered with the
    engine, and the engine's default bridge reaches the host where a Docker platform runs a
    network workload (`networked`: the platforms that run one)."""
    platforms = [registry.get(name) for name in names]
    for platform in platforms:
        if platform.is_vm and (reason := qemu.unsupported(platform.machine, platform.firmware, platform.disk_format)):
            raise BenchError(f"platform {platform.name}: {reason}")
    if any(p.kind == "podman" for p in platforms):
        from bench.platforms.podman import version

        version()
    if any(p.kind == "lxc" for p in platforms):
        from bench.platforms import lxc

        lxc.version()
    bridged = [name for name in networked if registry.get(name).kind == "container"]
    if any(p.runtimes() for p in platforms) or bridged:
        from bench.host import engines
        from bench.platforms.container import default_bridge, require_runtime

        client = engines.docker_client()
        for platform in platforms:
            require_runtime(client, platform)
        if bridged:
            try:
                default_bridge(client)
            except BenchError as e:
                raise BenchError(f"{', '.join(bridged)} cannot run the suite's network workloads: {e}") from None


def make_driver(name: str, progress: Progress, resources: Resources, vm_accel: VMAccel | None = None) -> Driver:
    """The driver of one platform; a VM's needs the accelerator already chosen."""
    platform = registry.get(name)
    if platform.kind == "native":
        from bench.platforms.native import NativeDriver
        return NativeDriver(resources)
    if platform.kind == "container":
        from bench.platforms.container import ContainerDriver
        return ContainerDriver(resources, platform)
    if platform.kind == "podman":
        from bench.platforms.podman import PodmanDriver
        return PodmanDriver(resources, platform)
    if platform.kind == "lxc":
        from bench.platforms.lxc import LXCDriver
        return LXCDriver(resources, platform)
    if vm_accel is None:
        raise ValueError(f"{name}: a VM driver needs its accelerator chosen")
    if platform.kind == "qemu":
        from bench.platforms.qemu_vm import QemuDriver
        return QemuDriver(resources, *vm_accel, platform=platform)
    from bench.platforms.vm import VMDriver
    return VMDriver(resources, *vm_accel, platform=platform, progress=progress)
