"""A libvirt connection whose guests do what a test says, by accelerator and CPU mode: boot and
print what the kernel command line asks the probe to print, hang with no output (as KVM
guests do under a paravirtual hypervisor), or fail in QEMU with libvirt's error text."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import libvirt

from bench.guest.protocol import PROBE

BOOTS, HANGS = "boots", "hangs"


class FakeLibvirtError(libvirt.libvirtError):
    """libvirt's error, with the message a real one would carry (the real class reads it from
    libvirt's last-error state, which a test cannot set)."""

    def __init__(self, message: str):
        Exception.__init__(self, message)
        self.message = message

    def get_error_message(self) -> str:
        return self.message


def guest_kind(xml: str) -> tuple[str, str]:
    """(accelerator, CPU mode) of a domain, as the harness writes its XML."""
    root = ET.fromstring(xml)
    accel = "kvm" if root.get("type") == "kvm" else "tcg"
    cpu = root.find("cpu")
    return accel, cpu.get("mode", "default") if cpu is not None else "default"


@dataclass
class FakeDomain:
    xml: str
    kind: tuple[str, str]
    behaviour: str
    ended: threading.Event = field(default_factory=threading.Event)
    destroyed: bool = False

    def UUIDString(self) -> str:  # noqa: N802 (libvirt's names)
        return str(id(self))

    def name(self) -> str:
        return ET.fromstring(self.xml).findtext("name") or ""

    def resume(self) -> None:
        pass

    def isActive(self) -> bool:  # noqa: N802
        return not self.ended.is_set()

    def destroy(self) -> None:
        self.destroyed = True
        self.ended.set()

    def openConsole(self, _dev: None, stream: FakeStream, _flags: int) -> None:  # noqa: N802
        stream.domain = self


@dataclass
class FakeStream:
    domain: FakeDomain | None = None
    said: bool = False

    def recv(self, _size: int) -> bytes:
        assert self.domain is not None
        if self.domain.behaviour == BOOTS and not self.said:
            self.said = True
            token = re.search(r"bench\.probe=(\w+)", self.domain.xml)
            return f"{PROBE}{token.group(1) if token else ''}\n".encode()
        self.domain.ended.wait()  # a hung guest says nothing until it is destroyed
        return b""

    def abort(self) -> None:
        if self.domain is not None:
            self.domain.ended.set()


class FakeHypervisor:
    """Stands for libvirt.open's connection; `behaviour` maps (accel, cpu mode) to BOOTS, HANGS
    or the text of QEMU's failure. Every guest created is kept in `created`."""

    def __init__(self, behaviour: dict[tuple[str, str], str]):
        self.behaviour = behaviour
        self.created: list[FakeDomain] = []

    def getURI(self) -> str:  # noqa: N802
        return "fake:///system"

    def createXML(self, xml: str, _flags: int) -> FakeDomain:  # noqa: N802
        kind = guest_kind(xml)
        behaviour = self.behaviour[kind]
        if behaviour not in (BOOTS, HANGS):
            raise FakeLibvirtError(f"internal error: qemu unexpectedly closed the monitor: error: {behaviour}")
        self.created.append(FakeDomain(xml, kind, behaviour))
        return self.created[-1]

    def lookupByUUIDString(self, uuid: str) -> FakeDomain:  # noqa: N802
        return next(d for d in self.created if d.UUIDString() == uuid)

    def lookupByName(self, name: str) -> FakeDomain:  # noqa: N802
        found = [d for d in self.created if d.name() == name]
        if not found:
            raise FakeLibvirtError(f"Domain not found: no domain with matching name '{name}'")
        return found[-1]

    def newStream(self, _flags: int) -> FakeStream:  # noqa: N802
        return FakeStream()

    def close(self) -> None:
        pass

    def kinds(self) -> list[tuple[str, str]]:
        return [d.kind for d in self.created]
