"""What isolation an instance actually had, read from its outermost host process in /proc.

Not what the platform is said to give, but what the kernel shows while the workload runs:
the namespaces it does not share with the harness, its user, how many capabilities it holds
of those the kernel has, its seccomp mode and no_new_privs. For a VM that process is the VMM
(QEMU): the guest's own kernel is the isolation, QEMU's confinement is a second wall.
"""

from __future__ import annotations

import platform
import pwd
from pathlib import Path

NAMESPACES = ("mnt", "pid", "net", "uts", "ipc", "user", "cgroup")
SECCOMP_MODES = {"0": "none", "1": "strict", "2": "filter"}
HOW = "/proc/PID/status and /proc/PID/ns of the instance's outermost process, at RESULT"


def _status(pid: int, proc: Path) -> dict[str, str]:
    fields = {}
    for line in (proc / str(pid) / "status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _own_namespaces(pid: int, proc: Path) -> list[str]:
    """The namespaces `pid` is in that the harness (this process) is not."""
    own = []
    for kind in NAMESPACES:
        try:
            if (proc / str(pid) / "ns" / kind).readlink() != (proc / "self" / "ns" / kind).readlink():
                own.append(kind)
        except OSError:  # a kernel without that namespace type
            continue
    return own


def _capability_count(proc: Path) -> int:
    try:
        return int((proc / "sys/kernel/cap_last_cap").read_text()) + 1
    except (OSError, ValueError):
        return 0


def _user(uid: str) -> str:
    try:
        return f"{uid} ({pwd.getpwuid(int(uid)).pw_name})"
    except (KeyError, ValueError):
        return uid  # a uid that only exists inside the instance


def observe(pid: int, proc: Path = Path("/proc")) -> dict[str, str]:
    """Facts named isolation.*; an empty dict if the process is gone."""
    try:
        status = _status(pid, proc)
        own = _own_namespaces(pid, proc)
    except OSError:
        return {}
    uid = status.get("Uid", "?").split()[0]
    held = bin(int(status.get("CapEff", "0"), 16)).count("1")
    total = _capability_count(proc)
    return {
        "isolation.process": status.get("Name", "?"),
        "isolation.namespaces": " ".join(own) if own else "none (shares the host's)",
        "isolation.user": _user(uid),
        "isolation.capabilities": f"{held} of {total}" if total else str(held),
        "isolation.seccomp": SECCOMP_MODES.get(status.get("Seccomp", ""), "unknown"),
        "isolation.no_new_privs": "yes" if status.get("NoNewPrivs") == "1" else "no",
        # How many filters are stacked on it (kernels from 5.9 say).
        **({"isolation.seccomp_filters": status["Seccomp_filters"]} if "Seccomp_filters" in status else {}),
    }


def shared_kernel() -> dict[str, str]:
    return {"isolation.kernel": f"the host's ({platform.release()})"}


def user_space_kernel(runtime: str) -> dict[str, str]:
    """gVisor: the workload talks to the Sentry; the host kernel serves the Sentry and its gofer."""
    return {"isolation.kernel": f"gVisor's user-space kernel ({runtime}, ptrace platform): the workload's system "
                                f"calls go to the Sentry; only the Sentry's and gofer's reach the host's "
                                f"({platform.release()})"}


def own_kernel(release: str, accel: str) -> dict[str, str]:
    return {"isolation.kernel": f"its own ({release}, {accel})"}
