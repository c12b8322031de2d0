"""Platform drivers: native (chroot), docker, vm (libvirt), behind one interface (base.py)."""

from __future__ import annotations

from bench.platforms.base import Driver
from bench.progress import Progress
from bench.resources import Resources

PLATFORMS = ("native", "docker", "vm")


def make_driver(name: str, progress: Progress, resources: Resources, accel: str = "auto") -> Driver:
    if name == "native":
        from bench.platforms.native import NativeDriver
        return NativeDriver(resources)
    if name == "docker":
        from bench.platforms.container import ContainerDriver
        return ContainerDriver(resources)
    if name == "vm":
        from bench import accel as accelerators
        from bench.platforms.vm import VMDriver
        return VMDriver(resources, *accelerators.choose(progress, accel))
    raise ValueError(f"unknown platform {name!r}")
