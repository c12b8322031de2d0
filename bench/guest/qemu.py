"""One QEMU process run directly, as Firecracker runs its VMM: the harness owns the process,
its console (the serial port on its stdio), its QMP socket and its teardown.

QEMU starts paused (-S) with the console already attached, so no line is lost and the guest's
first instruction runs at `cont`: the same footing as the libvirt domain, which is created
paused. The process dies with the harness (PR_SET_PDEATHSIG), as a libvirt guest with
autodestroy does; `bench clean` finds one that did not by its QMP socket's name.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.errors import BenchError
from bench.guest import qmp
from bench.guest.console import Console

QEMU = "qemu-system-x86_64"
# Where Debian's QEMU looks for firmware it is given by name.
FIRMWARE_DIRS = (Path("/usr/share/qemu"), Path("/usr/share/seabios"))
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS.fd")
FIRMWARE_FILES = {"seabios": "bios-256k.bin", "qboot": "bios-microvm.bin"}
# microvm: no PCI, virtio-mmio devices described by a minimal (hardware-reduced) ACPI, since the
# Debian kernel cannot take them from its command line (no VIRTIO_MMIO_CMDLINE_DEVICES); no
# option ROMs; the 16550 serial port for the console.
MICROVM = "microvm,x-option-roms=off,isa-serial=on,acpi=on,rtc=on"
PR_SET_PDEATHSIG = 1
QMP_SUFFIX = ".qmp"


@dataclass(frozen=True)
class QemuSpec:
    name: str  # carries the run's prefix: the QMP socket is named after it
    accel: str  # kvm or tcg
    machine: str  # pc, q35 or microvm
    firmware: str  # seabios, qboot or ovmf
    kernel: Path
    initramfs: Path
    cmdline: str
    socket_dir: Path
    memory_mib: int = 512
    vcpus: int = 1
    disk: Path | None = None  # a qcow2 overlay: virtio-blk, /dev/vda
    cpu_mode: str = "host-passthrough"
    nvram: Path | None = None  # UEFI: this guest's copy of the variable store
    tap: str | None = None  # a host tap device: one virtio-net NIC on it

    @property
    def qmp_socket(self) -> Path:
        return self.socket_dir / f"{self.name}{QMP_SUFFIX}"

    def argv(self) -> list[str]:
        args = [QEMU, "-name", self.name, "-S", "-nodefaults", "-no-user-config", "-display", "none",
                "-no-reboot", "-serial", "stdio", "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
                "-m", str(self.memory_mib), "-smp", str(self.vcpus), "-accel", self.accel,
                "-M", MICROVM if self.machine == "microvm" else self.machine]
        if self.accel == "kvm":
            args += ["-cpu", "host" if self.cpu_mode == "host-passthrough" else "qemu64"]
        if self.firmware == "ovmf":
            if self.nvram is None:
                raise BenchError(f"vm {self.name}: UEFI needs a variable store")
            args += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                     "-drive", f"if=pflash,format=raw,file={self.nvram}"]
        else:
            args += ["-bios", FIRMWARE_FILES[self.firmware]]
        args += ["-kernel", str(self.kernel), "-initrd", str(self.initramfs), "-append", self.cmdline]
        if self.disk is not None:
            bus = "virtio-blk-device" if self.machine == "microvm" else "virtio-blk-pci"
            args += ["-drive", f"id=root,file={self.disk},format=qcow2,if=none,cache=none,aio=native",
                     "-device", f"{bus},drive=root"]
        if self.tap is not None:
            nic = "virtio-net-device" if self.machine == "microvm" else "virtio-net-pci"
            args += ["-netdev", f"tap,id=net0,ifname={self.tap},script=no,downscript=no", "-device", f"{nic},netdev=net0"]
        return args


@cache
def machines() -> frozenset[str]:
    """The machine models this host's QEMU has (empty when it has no QEMU)."""
    try:
        listing = subprocess.run([QEMU, "-machine", "help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(line.split()[0] for line in listing.splitlines()[1:] if line.strip())


@cache
def disk_formats() -> frozenset[str]:
    """The disk formats this host's qemu-img reads and writes (empty when it has none)."""
    try:
        listing = subprocess.run(["qemu-img", "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    line = next((line for line in listing.splitlines() if line.startswith("Supported formats:")), "")
    return frozenset(line.removeprefix("Supported formats:").split())


def unsupported(machine: str, firmware: str, disk_format: str = "qcow2") -> str:
    """Why this host's QEMU cannot run a guest on that machine model, firmware and disk format
    ("" when it can)."""
    found = machines()
    if not found:
        return f"no {QEMU} here (Debian's qemu-system-x86)"
    if machine not in found:
        return f"{QEMU} here has no machine model {machine!r}"
    if disk_format not in disk_formats():
        return f"qemu-img here has no disk format {disk_format!r}"
    return firmware_missing(firmware)


def firmware_missing(firmware: str) -> str:
    """Why QEMU here cannot load this firmware ("" when it can)."""
    if firmware == "ovmf":
        files = [OVMF_CODE, OVMF_VARS]
        return "" if all(f.is_file() for f in files) else f"no {OVMF_CODE} (Debian's ovmf package)"
    name = FIRMWARE_FILES[firmware]
    return "" if any((d / name).is_file() for d in FIRMWARE_DIRS) else f"no {name} in {', '.join(map(str, FIRMWARE_DIRS))}"


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class QemuProcess:
    """A running guest: started paused, resumed over QMP, killed by `destroy`."""

    def __init__(self, spec: QemuSpec, enter: Callable[[], None] | None = None):
        self.spec = spec
        self.enter = enter  # in the child before exec: its CPUs and cgroup
        self.console = Console()
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self.started_ns: int | None = None  # process up, paused, its QMP answering
        self.resumed_ns: int | None = None  # first guest instruction may run

    def _child(self) -> None:
        _die_with_parent()
        if self.enter is not None:
            self.enter()

    def start(self, timeout_s: float = 30.0) -> None:
        self.spec.qmp_socket.unlink(missing_ok=True)
        try:
            self.proc = subprocess.Popen(self.spec.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=self._child)
        except OSError as e:
            raise BenchError(f"vm {self.spec.name}: cannot start {QEMU}: {e.strerror}") from None
        self._reader = threading.Thread(target=self._read, name=f"console-{self.spec.name}", daemon=True)
        self._reader.start()
        try:
            with qmp.connect(self.spec.qmp_socket, time.monotonic() + timeout_s, self.is_running) as monitor:
                self.started_ns = time.monotonic_ns()
                monitor.execute("cont")
                self.resumed_ns = time.monotonic_ns()
        except qmp.QMPError as e:
            tail = " / ".join(self.console.tail(3))
            raise BenchError(f"vm {self.spec.name}: {e}" + (f" (QEMU: {tail})" if tail else "")) from None

    def _read(self) -> None:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            self.console.feed(chunk)
        self.console.close(f"QEMU exited with code {proc.wait()}")

    def send(self, data: bytes) -> None:
        """Type `data` on the guest's serial console."""
        if self.proc is None or self.proc.stdin is None or self.proc.poll() is not None:
            raise BenchError(f"vm {self.spec.name}: no console to write to")
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def destroy(self) -> None:
        """Kill QEMU (the guest's power is cut, as libvirt's destroy does); safe to call twice."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            if self._reader is not None:
                self._reader.join(timeout=5)
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
        self.spec.qmp_socket.unlink(missing_ok=True)
        self.console.close("QEMU killed")


def leftover_processes(socket_dir: Path, prefix: str) -> dict[str, int]:
    """QEMU processes of the direct driver, by guest name: found by their QMP socket's path,
    which only the harness's own QEMU processes have."""
    wanted = f"unix:{socket_dir}/{prefix}"
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for flag, value in zip(argv, argv[1:]):
            if flag == b"-qmp" and value.decode(errors="replace").startswith(wanted):
                path = value.decode(errors="replace").removeprefix("unix:").split(",", 1)[0]
                found[Path(path).name.removesuffix(QMP_SUFFIX)] = int(entry.name)
    return found
