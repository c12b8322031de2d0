"""Which VM accelerator really works here, decided by booting a guest, not by asking.

`/dev/kvm` opening and libvirt advertising `kvm` prove nothing: under a paravirtual or
nested hypervisor a KVM guest can hang right after the firmware. So a tiny guest (the
harness's kernel and initramfs, no disk) must print a random token within a deadline. The
verdict is cached for this boot of the host; `bench doctor --recheck` probes again.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import libvirt

from bench import config
from bench.errors import BenchError
from bench.guest.console import ConsoleClosed
from bench.guest.protocol import INIT_FAILED, PROBE
from bench.guest.vm import GuestSpec, GuestVM, guest_name
from bench.host import engines, facts, files, leases
from bench.images import kernel
from bench.images.kernel import BootFiles
from bench.model import registry
from bench.model.resources import Resources
from bench.platforms import make_driver
from bench.platforms.base import Driver
from bench.progress import Progress

KVM_CPU_MODES = ("host-passthrough", "default")  # what a trial would use, then the fallback
TCG_DEADLINE_S = 120.0
PROBE_MEMORY_MIB = 256
VERDICT_FILE = "accel.json"


@dataclass(frozen=True)
class ProbeResult:
    accel: str
    cpu_mode: str
    usable: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class Verdict:
    boot_id: str
    checked_at: str
    kvm_present: bool
    kvm_present_detail: str
    kvm_deadline_s: float
    probes: list[ProbeResult] = field(default_factory=list)

    @property
    def chosen(self) -> ProbeResult | None:
        """The accelerator trials will use: KVM when a KVM guest booted, else TCG."""
        return next((p for p in self.probes if p.usable), None)

    def usable(self, accel: str) -> bool:
        return any(p.usable for p in self.probes if p.accel == accel)

    def summary(self) -> str:
        chosen = self.chosen
        if chosen is None:
            return "no VM accelerator works on this host: VMs cannot run"
        if chosen.accel == "kvm":
            return f"KVM usable (cpu {chosen.cpu_mode}); VMs will run under KVM"
        if self.kvm_present:
            return "KVM present but unusable; VMs will run under TCG emulation"
        return "KVM not present; VMs will run under TCG emulation"

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["chosen"] = self.chosen.accel if self.chosen else None
        data["summary"] = self.summary()
        return data

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        probes = [ProbeResult(**p) for p in data["probes"]]
        return cls(data["boot_id"], data["checked_at"], data["kvm_present"],
                   data["kvm_present_detail"], data["kvm_deadline_s"], probes)


def kvm_present() -> tuple[bool, str]:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return False, "/dev/kvm does not exist (no KVM module loaded, or no VT-x/AMD-V)"
        return False, f"/dev/kvm cannot be opened: {e.strerror}"
    os.close(fd)
    modules = ", ".join(facts.kvm_modules()) or "unknown module"
    return True, f"/dev/kvm opens ({modules})"


def probe(conn: libvirt.virConnect, boot: BootFiles, accel: str, cpu_mode: str, deadline_s: float,
          run_id: str) -> ProbeResult:
    token = secrets.token_hex(8)
    spec = GuestSpec(name=guest_name(run_id, f"probe-{accel}"), run_id=run_id, accel=accel,
                     kernel=boot.kernel, initramfs=boot.initramfs, memory_mib=PROBE_MEMORY_MIB,
                     cmdline=f"console=ttyS0 panic=-1 bench.probe={token}", cpu_mode=cpu_mode)
    start = time.monotonic()

    def result(usable: bool, detail: str) -> ProbeResult:
        return ProbeResult(accel, cpu_mode, usable, detail, round(time.monotonic() - start, 2))

    guest = GuestVM(conn, spec)
    try:
        guest.start()
        guest.console.wait_for(PROBE + token, deadline_s)
        return result(True, f"probe guest printed its token {time.monotonic() - start:.1f} s after start")
    except BenchError as e:
        return result(False, f"QEMU did not start: {_qemu_reason(str(e))}")
    except TimeoutError:
        seen = len(guest.console.text())
        what = "no console output at all" if seen == 0 else f"{seen} bytes of console output, no token"
        return result(False, f"guest hung: {what} within {deadline_s:g} s; domain destroyed")
    except ConsoleClosed:
        failed = [line for line in guest.console.tail(50) if line.startswith(INIT_FAILED)]
        last = (failed or guest.console.tail(1) or ["no output"])[-1]
        return result(False, f"guest ended before its token: {last}")
    finally:
        guest.destroy()


def _qemu_reason(message: str) -> str:
    """The informative part of libvirt's 'qemu unexpectedly closed the monitor: ...' text."""
    for line in message.splitlines():
        if "error:" in line:
            return line.rsplit("error:", 1)[1].strip()
    return message.splitlines()[0] if message else "unknown error"


def _cache_path() -> Path:
    return config.cache_dir() / "doctor" / VERDICT_FILE


def cached() -> Verdict | None:
    """This boot's verdict, if doctor has already probed."""
    try:
        verdict = Verdict.from_json(json.loads(_cache_path().read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return verdict if verdict.boot_id == facts.boot_id() else None


def examine(progress: Progress, recheck: bool = False, kvm_deadline_s: float = 20.0) -> Verdict:
    if not recheck and (previous := cached()) is not None:
        return previous
    boot = kernel.ensure(progress)
    conn = engines.libvirt_connection()
    run_id = f"doctor{os.getpid()}"
    present, detail = kvm_present()
    with leases.held(run_id):
        probes = _probes(conn, boot, present, kvm_deadline_s, run_id, progress)
    verdict = Verdict(facts.boot_id(), datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      present, detail, kvm_deadline_s, probes)
    path = _cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_json(path, verdict.to_json())
    return verdict


def _probes(conn: libvirt.virConnect, boot: BootFiles, kvm: bool, kvm_deadline_s: float, run_id: str,
            progress: Progress) -> list[ProbeResult]:
    """KVM in each CPU mode until one works; TCG when none did."""
    probes: list[ProbeResult] = []
    if kvm:
        for mode in KVM_CPU_MODES:
            with progress.step(f"KVM check: booting a probe guest, cpu {mode}, "
                               f"deadline {kvm_deadline_s:g} s"):
                probes.append(probe(conn, boot, "kvm", mode, kvm_deadline_s, run_id))
            if probes[-1].usable:
                break
    if not any(p.usable for p in probes):
        with progress.step("TCG check: booting a probe guest under emulation"):
            probes.append(probe(conn, boot, "tcg", "default", TCG_DEADLINE_S, run_id))
    return probes


def choose(progress: Progress, requested: str = "auto") -> tuple[str, str]:
    """(accelerator, CPU mode) for a VM trial: doctor's choice, unless one is forced."""
    if requested == "tcg":
        return "tcg", "default"
    verdict = examine(progress)
    if requested == "kvm":
        working = [p.cpu_mode for p in verdict.probes if p.accel == "kvm" and p.usable]
        return "kvm", (working or [KVM_CPU_MODES[0]])[0]
    if verdict.chosen is None:
        raise BenchError("no VM accelerator works on this host (run `bench doctor`)")
    return verdict.chosen.accel, verdict.chosen.cpu_mode


def driver(name: str, progress: Progress, resources: Resources, requested: str = "auto") -> Driver:
    """A platform's driver; a VM's with the accelerator chosen for this host (or `requested`)."""
    vm_accel = choose(progress, requested) if registry.is_vm(name) else None
    return make_driver(name, progress, resources, vm_accel)
