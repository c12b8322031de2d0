"""Before a stress that fills memory (allocation, the page cache), the host must hold both
instances at their limits with room to spare: the stress may fill its instance to its limit and
no further, and the host must neither swap nor reach its own OOM killer because of it."""

from __future__ import annotations

import psutil

from bench.errors import BenchError
from bench.model.units import MIB

RESERVE_MIB = 1024  # left to the host, the harness and the engines beyond both instances' limits


def require_memory_headroom(stress: str, victim_mib: int, neighbour_mib: int,
                            available_bytes: int | None = None, reserve_mib: int = RESERVE_MIB) -> None:
    """A one-line BenchError when the host's available memory cannot take both instances at
    their limits plus the reserve."""
    available_mib = (psutil.virtual_memory().available if available_bytes is None else available_bytes) // MIB
    needed_mib = victim_mib + neighbour_mib + reserve_mib
    if available_mib < needed_mib:
        raise BenchError(f"{stress} stress refused: the host has {available_mib} MiB available, the victim and the "
                         f"neighbour at their limits ({victim_mib} + {neighbour_mib} MiB) plus {reserve_mib} MiB "
                         f"for the host need {needed_mib} MiB; it would swap or OOM (lower memory_mib or free memory)")
