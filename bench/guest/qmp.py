"""The QEMU Machine Protocol, as much as the direct driver needs: connect to the socket QEMU
listens on, leave capabilities negotiation, execute a command and read its return (events that
arrive in between are skipped)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_S = 0.01


class QMPError(Exception):
    """QEMU's monitor could not be reached, or refused a command."""


class Monitor:
    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._file = sock.makefile("rb")

    def _message(self) -> dict:
        try:
            line = self._file.readline()
        except OSError as e:
            raise QMPError(f"QEMU's monitor: {e}") from None
        if not line:
            raise QMPError("QEMU closed its monitor")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise QMPError(f"QEMU's monitor sent no JSON: {line[:80]!r}") from None

    def execute(self, command: str) -> object:
        try:
            self._sock.sendall(json.dumps({"execute": command}).encode() + b"\n")
        except OSError as e:
            raise QMPError(f"QMP {command}: {e}") from None
        while True:
            reply = self._message()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise QMPError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")

    def close(self) -> None:
        self._file.close()
        self._sock.close()


@contextmanager
def connect(path: Path, deadline: float, alive: Callable[[], bool]) -> Iterator[Monitor]:
    """The monitor at `path`, once QEMU listens there (until `deadline`, time.monotonic(), while
    `alive()` says QEMU still runs), with capabilities negotiated."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            sock.connect(str(path))
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if not alive():
                sock.close()
                raise QMPError("QEMU exited before its monitor listened") from None
            if time.monotonic() > deadline:
                sock.close()
                raise QMPError(f"no QMP monitor at {path} in time") from None
            time.sleep(POLL_S)
    sock.settimeout(max(1.0, deadline - time.monotonic()))
    monitor = Monitor(sock)
    try:
        greeting = monitor._message()
        if "QMP" not in greeting:
            raise QMPError(f"not a QMP greeting: {str(greeting)[:80]}")
        monitor.execute("qmp_capabilities")
        yield monitor
    finally:
        monitor.close()
