"""Host CPU seconds an instance's processes consumed, read once when RESULT is seen.

user + system of every live process of the instance, plus the time of children they have
already reaped (children_user, children_system). The launchers stay alive until teardown
(native, docker: `--hold`; VM: QEMU), so by RESULT every workload process has been reaped
into a live ancestor and nothing is counted twice or lost.
"""

from __future__ import annotations

import psutil

HOW = "psutil cpu_times: user+system+reaped children, of the instance's host processes at RESULT"


def cpu_seconds(pids: list[int]) -> float | None:
    total, seen = 0.0, False
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
        seen = True
    return total if seen else None
