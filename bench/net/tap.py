"""A tap device for a VM that QEMU runs directly: made by the harness, on the run's libvirt
network's bridge, removed in teardown. Its alias is the instance's name, so `bench clean` can
tell a crashed run's tap from a live run's; the device's own name is short (15 characters)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench import config
from bench.host.proc import run

PREFIX = config.NAME_PREFIX.rstrip("-") + "t"  # vmctbt1a2b3c4d
SYS_NET = Path("/sys/class/net")


def name_for(instance: str) -> str:
    return f"{PREFIX}{hashlib.sha256(instance.encode()).hexdigest()[:8]}"


def create(instance: str, bridge: str) -> str:
    """A tap device for `instance`, up, on `bridge`; its name."""
    tap = name_for(instance)
    run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], f"tap {tap}: create")
    try:
        run(["ip", "link", "set", "dev", tap, "alias", instance], f"tap {tap}: alias")
        run(["ip", "link", "set", "dev", tap, "master", bridge, "up"], f"tap {tap}: onto {bridge}")
    except BaseException:
        remove(tap)
        raise
    return tap


def remove(tap: str) -> None:
    if (SYS_NET / tap).exists():
        run(["ip", "link", "del", "dev", tap], f"tap {tap}: remove")


def leftovers() -> dict[str, str]:
    """The harness's tap devices: the instance each belongs to (its alias) → the device."""
    found = {}
    for device in sorted(SYS_NET.glob(f"{PREFIX}*")):
        try:
            alias = (device / "ifalias").read_text().strip()
        except OSError:
            alias = ""
        found[alias or device.name] = device.name
    return found
