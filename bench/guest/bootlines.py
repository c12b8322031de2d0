"""Where a VM's boot crosses from firmware to kernel to init, read off its serial console.

The kernel's first line is the first that only the kernel prints: its real-mode setup code's EDD
probe (a BIOS boot: SeaBIOS, qboot), its EFI stub (UEFI), or its first log line. The init's first
line is the harness's initramfs announcing itself. Each is timed as the harness saw it, like READY.
"""

from __future__ import annotations

import re

from bench.guest.console import Console
from bench.guest.protocol import INIT

KERNEL_MARKS = ("Probing EDD", "EFI stub:", "Decompressing Linux", "Linux version ")
LOG_LINE = re.compile(r"\[\s*\d+\.\d{6}\] ")
# The instance's phase events these lines end: firmware ends at the kernel's first line, the
# kernel's boot at the init's.
FIRMWARE, KERNEL = "firmware", "kernel"


def is_kernel_line(text: str) -> bool:
    return any(mark in text for mark in KERNEL_MARKS) or LOG_LINE.search(text) is not None


def boot_events(console: Console) -> dict[str, int]:
    """{"firmware": when the kernel's first line was seen, "kernel": when the init's was}, for
    those that came."""
    events = {}
    if (kernel := console.first(is_kernel_line)) is not None:
        events[FIRMWARE] = kernel.t_ns
    if (init := console.first(lambda text: INIT in text)) is not None:
        events[KERNEL] = init.t_ns
    return events
