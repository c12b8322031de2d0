"""Host provenance: what machine produced the numbers, and whether it is itself a VM."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

# Flags worth naming in a report: virtualisation support and the vector units a
# CPU-bound workload may use.
NOTABLE_FLAGS = ("vmx", "svm", "hypervisor", "aes", "avx", "avx2", "avx512f", "sha_ni")


@dataclass(frozen=True)
class HostInfo:
    hostname: str
    cpu_model: str
    cpu_flags: list[str]  # the notable ones present
    cpu_flag_count: int
    logical_cpus: int
    physical_cores: int | None
    memory_bytes: int
    kernel: str
    distribution: str
    virtualised: bool  # the CPU's hypervisor flag, or systemd-detect-virt --vm found one
    hypervisor: str  # systemd-detect-virt --vm: kvm, vmware, ..., none, or unknown
    container: str  # systemd-detect-virt --container: the harness itself runs in one
    kvm_modules: list[str]
    boot_id: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostInfo:
        """As a run recorded it; a fact an older harness did not record reads as unknown."""
        unknown: dict[str, Any] = {"hostname": "?", "cpu_model": "?", "cpu_flags": [], "cpu_flag_count": 0,
                                   "logical_cpus": 0, "physical_cores": None, "memory_bytes": 0, "kernel": "?",
                                   "distribution": "?", "virtualised": False, "hypervisor": "unknown",
                                   "container": "unknown", "kvm_modules": [], "boot_id": ""}
        return cls(**{name: data.get(name, default) for name, default in unknown.items()})


def read_text(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return default


def boot_id() -> str:
    return read_text("/proc/sys/kernel/random/boot_id", "unknown").strip()


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = "unknown", set()
    for line in read_text("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def _distribution() -> str:
    for line in read_text("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "unknown"


def _detect_virt(kind: str) -> str:
    tool = shutil.which("systemd-detect-virt")
    if tool is None:
        return "unknown (systemd-detect-virt not installed)"
    proc = subprocess.run([tool, f"--{kind}"], capture_output=True, text=True)
    return proc.stdout.strip() or "none"


def kvm_modules() -> list[str]:
    """Loaded KVM modules: kvm_intel / kvm_amd on bare metal, others (kvm_pvm) when nested."""
    return sorted(p.name for p in Path("/sys/module").glob("kvm_*")) if Path("/sys/module").is_dir() else []


def describe() -> HostInfo:
    model, flags = _cpuinfo()
    hypervisor = _detect_virt("vm")
    detected = hypervisor != "none" and not hypervisor.startswith("unknown")
    return HostInfo(
        hostname=socket.gethostname(),
        cpu_model=model,
        cpu_flags=[f for f in NOTABLE_FLAGS if f in flags],
        cpu_flag_count=len(flags),
        logical_cpus=os.cpu_count() or 0,
        physical_cores=psutil.cpu_count(logical=False),
        memory_bytes=psutil.virtual_memory().total,
        kernel=platform.release(),
        distribution=_distribution(),
        virtualised="hypervisor" in flags or detected,
        hypervisor=hypervisor,
        container=_detect_virt("container"),
        kvm_modules=kvm_modules(),
        boot_id=boot_id(),
    )
