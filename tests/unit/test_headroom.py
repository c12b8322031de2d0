"""The memory headroom a filling stress needs, refused in one line where the host would swap or OOM."""

from __future__ import annotations

import psutil
import pytest

from bench.errors import BenchError
from bench.host.headroom import MIB, require_memory_headroom


def test_enough_headroom_passes_and_too_little_is_one_line() -> None:
    require_memory_headroom("memory", 512, 512, available_bytes=2048 * MIB)  # 512 + 512 + 1024: just enough
    with pytest.raises(BenchError) as err:
        require_memory_headroom("page-cache", 512, 512, available_bytes=2047 * MIB)
    message = str(err.value)
    assert message == ("page-cache stress refused: the host has 2047 MiB available, the victim and the neighbour "
                       "at their limits (512 + 512 MiB) plus 1024 MiB for the host need 2048 MiB; it would swap "
                       "or OOM (lower memory_mib or free memory)")


def test_the_host_reading_is_this_hosts_available_memory() -> None:
    available_mib = psutil.virtual_memory().available // MIB
    with pytest.raises(BenchError, match=r"the host has \d+ MiB available"):
        require_memory_headroom("memory", available_mib, 64)  # more than the host has, whatever it has
    require_memory_headroom("memory", 64, 64, reserve_mib=0)
