"""One transient libvirt domain that owns its lifecycle: define it started-paused, attach the
console before the first instruction runs, resume, watch its lines, destroy it.

The console stream has a connection of its own. A blocking stream read shares a connection's
I/O with every other call on it, and once a resume on the shared connection waited forever
(libvirtd idle, both sockets drained) while the reader sat in recv on a paused, silent guest.

Used by the VM platform driver and by doctor's accelerator probe, so the probe boots exactly
the kind of guest a trial will.
"""

from __future__ import annotations

import contextlib
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import libvirt

from bench import config
from bench.errors import BenchError
from bench.guest.console import Console
from bench.guest.qemu import OVMF_CODE, OVMF_VARS

ACCELS = ("kvm", "tcg")
METADATA_NS = "https://github.com/vmct-bench/run"
ET.register_namespace("bench", METADATA_NS)


@dataclass(frozen=True)
class GuestSpec:
    name: str  # carries the run's prefix: bench clean finds it by name
    run_id: str
    accel: str  # "kvm" or "tcg"
    kernel: Path
    initramfs: Path
    cmdline: str
    memory_mib: int = 512
    vcpus: int = 1
    cpuset: str | None = None  # host CPUs the guest's threads run on ("1", "2,3")
    disk: Path | None = None  # a qcow2 overlay, attached as virtio-blk /dev/vda
    # Under KVM: "host-passthrough" (the host's CPU as is) or "default" (QEMU's model,
    # when passthrough fails). TCG always emulates QEMU's default model.
    cpu_mode: str = "host-passthrough"
    network: str | None = None  # a libvirt network: one virtio-net NIC on it
    machine: str = "pc"  # QEMU's machine model: pc (i440FX) or q35
    nvram: Path | None = None  # UEFI: where this guest's variable store goes (OVMF's firmware)

    def domain_xml(self) -> str:
        if self.accel not in ACCELS:
            raise BenchError(f"unknown accelerator {self.accel!r} (known: {', '.join(ACCELS)})")
        domain = ET.Element("domain", type="kvm" if self.accel == "kvm" else "qemu")
        ET.SubElement(domain, "name").text = self.name
        meta = ET.SubElement(domain, "metadata")
        ET.SubElement(meta, "{%s}run" % METADATA_NS).text = self.run_id
        ET.SubElement(domain, "memory", unit="MiB").text = str(self.memory_mib)
        vcpu = ET.SubElement(domain, "vcpu", placement="static")
        vcpu.text = str(self.vcpus)
        if self.cpuset:
            vcpu.set("cpuset", self.cpuset)
        os_el = ET.SubElement(domain, "os")
        ET.SubElement(os_el, "type", arch="x86_64", machine=self.machine).text = "hvm"
        if self.nvram is not None:
            ET.SubElement(os_el, "loader", readonly="yes", type="pflash").text = str(OVMF_CODE)
            ET.SubElement(os_el, "nvram", template=str(OVMF_VARS)).text = str(self.nvram)
        ET.SubElement(os_el, "kernel").text = str(self.kernel)
        ET.SubElement(os_el, "initrd").text = str(self.initramfs)
        ET.SubElement(os_el, "cmdline").text = self.cmdline
        # ACPI lets the guest's power-off end the domain; without it QEMU only halts.
        ET.SubElement(ET.SubElement(domain, "features"), "acpi")
        if self.accel == "kvm" and self.cpu_mode != "default":
            ET.SubElement(domain, "cpu", mode=self.cpu_mode)
        for event in ("on_poweroff", "on_reboot", "on_crash"):
            ET.SubElement(domain, event).text = "destroy"
        devices = ET.SubElement(domain, "devices")
        if self.disk is not None:
            disk = ET.SubElement(devices, "disk", type="file", device="disk")
            ET.SubElement(disk, "driver", name="qemu", type="qcow2", cache="none", io="native")
            ET.SubElement(disk, "source", file=str(self.disk))
            ET.SubElement(disk, "target", dev="vda", bus="virtio")
        if self.network is not None:
            nic = ET.SubElement(devices, "interface", type="network")
            ET.SubElement(nic, "source", network=self.network)
            ET.SubElement(nic, "model", type="virtio")
        ET.SubElement(ET.SubElement(devices, "serial", type="pty"), "target", port="0")
        ET.SubElement(ET.SubElement(devices, "console", type="pty"), "target", type="serial", port="0")
        ET.SubElement(devices, "controller", type="usb", model="none")
        ET.SubElement(devices, "memballoon", model="none")
        return ET.tostring(domain, encoding="unicode")


def device_model(xml: str) -> str:
    """The devices a live domain's QEMU emulates for its guest, from libvirt's XML of it: the
    host-side surface a guest kernel's calls end at (model "none" is no device)."""
    found: Counter[str] = Counter()
    devices = ET.fromstring(xml).find("devices")
    for device in devices if devices is not None else ():
        model = device.find("model")
        target = device.find("target")
        kind = (model.get("type") if model is not None else None) or device.get("model") or \
            (target.get("bus") if target is not None else None) or device.get("type") or ""
        if device.tag != "emulator" and kind != "none":
            found[f"{device.tag} {kind}".strip()] += 1
    return ", ".join(f"{n}× {what}" if n > 1 else what for what, n in found.items()) or "none listed"


class GuestVM:
    """A running guest. Use as a context manager: the domain is gone when the block ends."""

    def __init__(self, conn: libvirt.virConnect, spec: GuestSpec):
        self.conn = conn
        self.spec = spec
        self.console = Console()
        self.domain: libvirt.virDomain | None = None
        self._console_conn: libvirt.virConnect | None = None
        self._stream: libvirt.virStream | None = None
        self._reader: threading.Thread | None = None
        self.created_ns: int | None = None  # domain exists (paused), console attached
        self.resumed_ns: int | None = None  # first guest instruction may run

    def start(self) -> None:
        try:
            # Autodestroy: libvirt removes the domain when this connection closes, so even a
            # harness killed outright (SIGKILL) leaves no guest running.
            self.domain = self.conn.createXML(
                self.spec.domain_xml(),
                libvirt.VIR_DOMAIN_START_PAUSED | libvirt.VIR_DOMAIN_START_AUTODESTROY)
            self._console_conn = libvirt.open(self.conn.getURI())
            self._stream = self._console_conn.newStream(0)
            self._console_conn.lookupByUUIDString(self.domain.UUIDString()).openConsole(
                None, self._stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
            self.created_ns = time.monotonic_ns()
            self._reader = threading.Thread(target=self._read, name=f"console-{self.spec.name}",
                                            daemon=True)
            self._reader.start()
            self.domain.resume()
            self.resumed_ns = time.monotonic_ns()
        except libvirt.libvirtError as e:
            raise BenchError(f"vm {self.spec.name}: {e.get_error_message()}") from None

    def _read(self) -> None:
        assert self._stream is not None
        try:
            while True:
                data = self._stream.recv(65536)
                if not data or not isinstance(data, bytes):
                    break
                self.console.feed(data)
            self.console.close("guest console closed (domain ended)")
        except libvirt.libvirtError as e:
            self.console.close(f"guest console closed: {e.get_error_message()}")

    def send(self, data: bytes) -> None:
        """Type `data` on the guest's serial console."""
        if self._stream is None:
            raise BenchError(f"vm {self.spec.name}: no console to write to")
        try:
            self._stream.send(data)
        except libvirt.libvirtError as e:
            raise BenchError(f"vm {self.spec.name}: writing to its console: {e.get_error_message()}") from None

    def is_running(self) -> bool:
        try:
            return self.domain is not None and bool(self.domain.isActive())
        except libvirt.libvirtError:
            return False

    def wait_until_gone(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.is_running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def destroy(self) -> None:
        try:
            # No handle when an interrupt landed between the domain's creation and the
            # return of createXML: the name is unique, so look it up.
            domain = self.domain or self.conn.lookupByName(self.spec.name)
            domain.destroy()
        except libvirt.libvirtError:
            pass  # never created, or already gone: it powered off and on_poweroff removed it
        if self._reader is not None:
            self._reader.join(timeout=5)  # the domain's end closes the stream: the reader ends by itself
        with contextlib.suppress(libvirt.libvirtError):
            if self._stream is not None and (self._reader is None or self._reader.is_alive()):
                self._stream.abort()
                if self._reader is not None:
                    self._reader.join(timeout=5)
        with contextlib.suppress(libvirt.libvirtError):
            if self._console_conn is not None:
                self._console_conn.close()
        self.console.close("domain destroyed")

    def __enter__(self) -> GuestVM:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


def guest_name(run_id: str, role: str) -> str:
    return f"{config.NAME_PREFIX}{run_id}-{role}"
