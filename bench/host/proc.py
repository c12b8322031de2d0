"""Running host tools: a failure becomes one line that names the step and the cause."""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import ExitStack
from collections.abc import Sequence
from pathlib import Path

from bench.errors import BenchError

# Which Debian package provides a tool, for the "not installed" message.
TOOL_PACKAGES = {
    "mmdebstrap": "mmdebstrap",
    "mkfs.ext4": "e2fsprogs",
    "qemu-img": "qemu-utils",
    "depmod": "kmod",
    "cpio": "cpio",
    "dpkg": "dpkg",
    "apt-get": "apt",
    "apt-cache": "apt",
    "tar": "tar",
}
DISK_FULL = "No space left on device"


def run(cmd: Sequence[str | Path], step: str, *, cwd: Path | None = None,
        env: dict[str, str] | None = None, input: bytes | None = None,
        stdout_to: Path | None = None, log: Path | None = None) -> str:
    """Run `cmd` and return its stdout. `stdout_to` sends stdout to a file; `log` sends
    stdout and stderr to a file (kept for the user) and still reads it for the error line."""
    argv = [str(c) for c in cmd]
    try:
        with ExitStack() as files:
            sink = stdout_to or log
            out = files.enter_context(sink.open("wb")) if sink else subprocess.PIPE
            err = subprocess.STDOUT if log else subprocess.PIPE
            proc = subprocess.run(argv, cwd=cwd, env=env, input=input, stdout=out, stderr=err,
                                  stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        package = TOOL_PACKAGES.get(argv[0], argv[0])
        raise BenchError(f"{step}: {argv[0]} is not installed (Debian package {package}; "
                         f"`make run` installs it)") from None
    except OSError as e:
        raise os_error(step, e) from None
    stdout = proc.stdout.decode(errors="replace") if out is subprocess.PIPE else ""
    stderr = proc.stderr.decode(errors="replace") if err is subprocess.PIPE else ""
    if proc.returncode != 0:
        output = log.read_text(errors="replace") if log else stdout + stderr
        raise BenchError(f"{step}: {failure_summary(argv[0], proc.returncode, output)}")
    return stdout


def failure_summary(tool: str, code: int, output: str) -> str:
    if DISK_FULL in output:
        return f"{tool}: disk full ({DISK_FULL.lower()})"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("E:", "error", "Error", "ERROR"))]
    last = (errors or lines or ["no output"])[-1]
    return f"{tool} failed (exit {code}): {last}"


def os_error(step: str, e: OSError) -> BenchError:
    if e.errno == errno.ENOSPC:
        where = f" ({e.filename})" if e.filename and str(e.filename) not in step else ""
        return BenchError(f"{step}: disk full ({DISK_FULL.lower()}){where}")
    return BenchError(f"{step}: {e.strerror or e} ({e.filename or ''})".replace(" ()", ""))


def mounts_under(path: Path) -> list[Path]:
    """The mount points at or below `path`, deepest first (the order to unmount them in)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    top = str(path.resolve())
    points = []
    for line in lines:
        # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
        point = line.split()[4].encode().decode("unicode_escape")
        if point == top or point.startswith(top + "/"):
            points.append(Path(point))
    return sorted(points, key=lambda p: len(p.parts), reverse=True)


def unmount_under(path: Path) -> None:
    """Detach every mount at or below `path` (a killed daemon's bind mounts, say), so the tree
    can be removed; lazily, so a process still holding one does not stop it."""
    for point in mounts_under(path):
        subprocess.run(["umount", "--lazy", str(point)], capture_output=True)


def alive(pid: int) -> bool:
    """Whether a process of that pid exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
