"""A VM's boot in four parts, for the chart that sets this run's VMs beside published figures:
the VMM's (the machine made, paused, its console attached, resumed), the firmware's, the kernel's
and the init's (to READY). The published figures were measured on other hardware under KVM:
context, not evidence."""

from __future__ import annotations

from dataclasses import dataclass

from bench.probes.boot import INIT
from bench.guest.bootlines import FIRMWARE, KERNEL

VMM, UNSPLIT = "vmm", "unsplit"
PARTS = (VMM, FIRMWARE, KERNEL, INIT)
PART_NAMES = {VMM: "VMM: machine made, resumed", FIRMWARE: "firmware", KERNEL: "kernel", INIT: "init to READY",
              UNSPLIT: "published without a split"}


def parts(segments: dict[str, float]) -> dict[str, float]:
    """A VM's boot segments (in order) folded into the four parts; {} when its firmware's end was
    not seen (a run from before the phases, or not a VM)."""
    if FIRMWARE not in segments or KERNEL not in segments:
        return {}
    folded = dict.fromkeys(PARTS, 0.0)
    part = VMM
    for name, seconds in segments.items():
        if name in (FIRMWARE, KERNEL):
            folded[name] += seconds
            part = INIT if name == KERNEL else part
        else:
            folded[part] += seconds
    return folded


@dataclass(frozen=True)
class Published:
    setting: str
    source: str
    parts_ms: dict[str, float]  # the parts it reports, in milliseconds
    note: str = ""


PUBLISHED = (
    Published("Firecracker microVM (2 vCPUs, 256 MiB, its tuned kernel; i3.metal, KVM)",
              "Firecracker SPECIFICATION.md: InstanceStart to the guest's /sbin/init, an upper bound",
              {UNSPLIT: 125.0}, "≤ 125 ms from the API call to init, not split into parts"),
    Published("QEMU q35 + SeaBIOS + bzImage (KVM)",
              "S. Garzarella, How to measure the boot time of a Linux VM with QEMU/KVM (2019), mean of 3 boots",
              {VMM: 34.2, FIRMWARE: 10.4, KERNEL: 200.8},
              "QEMU's start to its first guest entry, the firmware to the jump to Linux, then Linux to starting init"),
)
