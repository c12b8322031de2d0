"""The host's time-stamp counter rate, measured against its monotonic clock.

Under TCG a guest's RDTSC returns the host's counter, so this is the rate its TSC runs at. The
microvm machine gives a guest kernel nothing to calibrate it against (no PIT, HPET or ACPI PM
timer once its ACPI is hardware-reduced): without being told, the kernel waits forever.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import time
from functools import cache

from bench.errors import BenchError

# rdtsc; shl rdx, 32; or rax, rdx; ret
RDTSC_X86_64 = bytes.fromhex("0f31" "48c1e220" "4809d0" "c3")
WINDOW_S = 0.05
ROUNDS = 3


@cache
def _rdtsc() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    if platform.machine() not in ("x86_64", "AMD64"):
        raise BenchError(f"no time-stamp counter to read on {platform.machine()}")
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(RDTSC_X86_64)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    function = ctypes.CFUNCTYPE(ctypes.c_uint64)(address)
    function.page = page  # kept alive with the function
    return function


@cache
def rate_khz() -> int:
    """The TSC's ticks per millisecond: the median of a few 50 ms windows."""
    rdtsc = _rdtsc()
    rates = []
    for _ in range(ROUNDS):
        t0, c0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW), rdtsc()
        time.sleep(WINDOW_S)
        t1, c1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW), rdtsc()
        rates.append((c1 - c0) * 1_000_000 // (t1 - t0))
    return sorted(rates)[len(rates) // 2]
