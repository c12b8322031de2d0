"""An instance's output as timestamped lines, fed by a reader thread, waited on by the driver.

All three platforms deliver bytes differently (a pipe, Docker's attach stream, a libvirt
console stream); they all feed one `Console`, which notes when each line arrived so READY
and RESULT are timed where the harness first sees them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.guest.protocol import PHASE


@dataclass(frozen=True)
class Line:
    text: str
    t_ns: int  # time.monotonic_ns() when the line's last byte arrived
    wall_ns: int = 0  # time.time_ns() at the same moment: comparable with guest timestamps


class ConsoleClosed(Exception):
    """The instance's output ended before the awaited line appeared."""


class Console:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._lines: list[Line] = []
        self._partial = b""
        self.first_byte_ns: int | None = None
        self.closed_reason: str | None = None

    def feed(self, data: bytes) -> None:
        now, wall = time.monotonic_ns(), time.time_ns()
        with self._cond:
            if self.first_byte_ns is None and data:
                self.first_byte_ns = now
            *complete, self._partial = (self._partial + data).split(b"\n")
            for raw in complete:
                text = raw.decode(errors="replace").rstrip("\r")
                self._lines.append(Line(text, now, wall))
            if complete:
                self._cond.notify_all()

    def close(self, reason: str = "output ended") -> None:
        with self._cond:
            if self._partial:
                text = self._partial.decode(errors="replace").rstrip("\r")
                self._lines.append(Line(text, time.monotonic_ns(), time.time_ns()))
                self._partial = b""
            if self.closed_reason is None:
                self.closed_reason = reason
            self._cond.notify_all()

    def wait_for(self, prefix: str | tuple[str, ...], timeout_s: float,
                 start: int = 0, deadline: float | None = None) -> tuple[int, Line]:
        """The first line at index >= `start` that begins with `prefix` (or one of several),
        and its index.

        Raises TimeoutError after `timeout_s`, or at `deadline` (time.monotonic()) when one
        is given: a later wait of the same trial shares its deadline, and the error names the
        trial's whole timeout, not whatever was left of it. ConsoleClosed when the output ends first.
        """
        if deadline is None:
            deadline = time.monotonic() + timeout_s
        with self._cond:
            index = start
            while True:
                while index < len(self._lines):
                    line = self._lines[index]
                    if line.text.startswith(prefix):
                        return index, line
                    index += 1
                if self.closed_reason is not None:
                    raise ConsoleClosed(self.closed_reason)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    wanted = " or ".join(repr(p.strip()) for p in ((prefix,) if isinstance(prefix, str) else prefix))
                    raise TimeoutError(f"no {wanted} line within {timeout_s:g} s")
                self._cond.wait(remaining)

    def phases(self) -> dict[str, int]:
        """Each PHASE line's name → when the host saw it: timed like READY."""
        with self._cond:
            found = {}
            for line in self._lines:
                if line.text.startswith(PHASE) and len(words := line.text[len(PHASE):].split()) >= 1:
                    found.setdefault(words[0], line.t_ns)
            return found

    def first(self, found: Callable[[str], bool]) -> Line | None:
        """The first line `found` accepts, if one came."""
        with self._cond:
            return next((line for line in self._lines if found(line.text)), None)

    def has_line(self, prefix: str) -> bool:
        with self._cond:
            return any(line.text.startswith(prefix) for line in self._lines)

    def tail(self, n: int = 20) -> list[str]:
        with self._cond:
            return [line.text for line in self._lines[-n:]]

    def text(self) -> str:
        with self._cond:
            return "\n".join(line.text for line in self._lines)
