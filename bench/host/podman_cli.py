"""The podman command line, as the harness calls it.

Configured on the command line, not in containers.conf, so nothing on the host changes: the
cgroupfs manager and the file events logger, since there may be no systemd.
"""

from __future__ import annotations

import subprocess

from bench import config
from bench.errors import BenchError

PODMAN = ("podman", "--cgroup-manager=cgroupfs", "--events-backend=file")
TIMEOUT_S = 120  # one podman command; import of the rootfs included


def podman(*args: str, timeout: float = TIMEOUT_S) -> str:
    """Run one podman command; its stdout, or a one-line BenchError with its stderr."""
    try:
        done = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise BenchError("podman: not installed (`make run` installs Debian's podman)") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"podman {args[0]}: no answer within {timeout:g} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise BenchError(f"podman {args[0]}: {(lines or ['exit ' + str(done.returncode)])[-1].removeprefix('Error: ')}")
    return done.stdout


def version() -> str:
    return podman("version", "--format", "{{.Client.Version}}", timeout=30).strip()


def labelled(*listing: str, name: str = "{{.Name}}") -> list[str]:
    """Names of the harness's objects (by label) in one listing: ("network", "ls"), or ("ps",
    "--all") with name="{{.Names}}"; none where Podman is missing."""
    try:
        out = podman(*listing, "--filter", f"label={config.RUN_LABEL}", "--format", name, timeout=30)
    except BenchError:
        return []
    return sorted(line for line in out.splitlines() if line)
