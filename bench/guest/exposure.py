"""The exposure probe's build: exposure.c, compiled static against a table of every system call
of the host's architecture (from the C library's headers), placed in the root filesystem beside
the launcher. And the one list of calls it never makes, with the reason for each.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import BenchError
from bench.guest import static
from bench.host.proc import run

SOURCE = "exposure.c"
GUEST_NAME = "exposure"  # under config.GUEST_LIB
# Calls that could act even with every argument invalid, or that act with none: never made, so
# a probe run as root on the host itself changes nothing of it. Reported "not probed".
NOT_PROBED: dict[str, str] = {
    "reboot": "restarts or halts the machine when its magic numbers happen to match",
    "kexec_load": "loads a kernel to boot into",
    "kexec_file_load": "loads a kernel to boot into",
    "init_module": "loads code into the kernel",
    "finit_module": "loads code into the kernel",
    "delete_module": "unloads a kernel module",
    "swapon": "changes the host's swap",
    "swapoff": "changes the host's swap",
    "acct": "with a NULL path it switches process accounting off",
    "sethostname": "renames the UTS namespace's host",
    "setdomainname": "renames the UTS namespace's domain",
    "sync": "takes no arguments: it writes back every filesystem's dirty data",
    "vhangup": "takes no arguments: it hangs up the controlling terminal",
    "msgget": "with IPC_CREAT among its flags it creates a System V message queue that outlives the probe",
}
_DEFINE = re.compile(r"^#define __NR_([a-z0-9_]+) (\d+)$")


def source() -> str:
    return static.source(SOURCE)


def architecture_calls(cc: str = "cc") -> dict[str, int]:
    """name → number of every system call the C library's headers define for this architecture."""
    listing = run([cc, "-dM", "-E", "-include", "sys/syscall.h", "-x", "c", "/dev/null"], "exposure probe's call table")
    calls = {m.group(1): int(m.group(2)) for m in map(_DEFINE.match, listing.splitlines()) if m}
    if not calls:
        raise BenchError("exposure probe: the C library's headers define no system call numbers")
    return calls


def calls_header(calls: dict[str, int]) -> str:
    rows = [f'    {{{nr}, "{name}", {0 if name in NOT_PROBED else 1}}},'
            for name, nr in sorted(calls.items(), key=lambda kv: kv[1])]
    return "static const struct call CALLS[] = {\n" + "\n".join(rows) + "\n};\n"


def build(out: Path, work: Path) -> None:
    """Compile the probe, static (no library of the image's is used), into `out`."""
    cc = static.compiler("exposure probe")
    static.build(SOURCE, out, work, {"exposure_calls.h": calls_header(architecture_calls(cc))}, cc)
