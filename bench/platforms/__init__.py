"""Platform drivers: native (chroot), docker (and docker-volume: the same with a volume at
/var/tmp; docker-app: each workload from its application-only image), vm (libvirt; vm-os:
the same VM booting the image's own systemd), behind one interface (base.py)."""

from __future__ import annotations

from bench.cli.progress import Progress
from bench.platforms.base import Driver
from bench.run.resources import Resources

PLATFORMS = ("native", "docker", "docker-volume", "docker-app", "vm", "vm-os")
VM_PLATFORMS = ("vm", "vm-os")
# How reports name a platform where the name alone would be ambiguous.
LABELS = {"vm": "vm-minimal"}


def is_vm(platform: str) -> bool:
    """Runs on a hypervisor whose accelerator (kvm, tcg) qualifies every number it gives."""
    return platform in VM_PLATFORMS


def label(platform: str, accel: str = "") -> str:
    """The platform as reports show it: vm-minimal/tcg, vm-os/kvm, docker."""
    shown = LABELS.get(platform, platform)
    return f"{shown}/{accel}" if is_vm(platform) and accel else shown


def make_driver(name: str, progress: Progress, resources: Resources, accel: str = "auto") -> Driver:
    if name == "native":
        from bench.platforms.native import NativeDriver
        return NativeDriver(resources)
    if name in ("docker", "docker-volume", "docker-app"):
        from bench.platforms.container import ContainerDriver
        return ContainerDriver(resources, variant=name)
    if is_vm(name):
        from bench.host import accel as accelerators
        from bench.platforms.vm import VMDriver
        return VMDriver(resources, *accelerators.choose(progress, accel), name=name)
    raise ValueError(f"unknown platform {name!r}")
