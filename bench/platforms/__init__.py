"""Platform drivers: native (chroot), docker (and docker-volume: the same with a volume at
/var/tmp), vm (libvirt), behind one interface (base.py)."""

from __future__ import annotations

from bench.platforms.base import Driver
from bench.progress import Progress
from bench.resources import Resources

PLATFORMS = ("native", "docker", "docker-volume", "vm")


def make_driver(name: str, progress: Progress, resources: Resources, accel: str = "auto") -> Driver:
    if name == "native":
        from bench.platforms.native import NativeDriver
        return NativeDriver(resources)
    if name in ("docker", "docker-volume"):
        from bench.platforms.container import ContainerDriver
        return ContainerDriver(resources, volume=name == "docker-volume")
    if name == "vm":
        from bench import accel as accelerators
        from bench.platforms.vm import VMDriver
        return VMDriver(resources, *accelerators.choose(progress, accel))
    raise ValueError(f"unknown platform {name!r}")
