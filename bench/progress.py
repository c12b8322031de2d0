"""Progress of long steps on stderr: the step's name and its elapsed time.

On a terminal the current step's line is redrawn every second; elsewhere (CI logs) a step
prints one line when it starts and one when it ends, so logs stay short.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, TextIO


@dataclass
class StepTime:
    seconds: float = 0.0  # set when the step ends


class Progress:
    def __init__(self, stream: TextIO | None = None, live: bool | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.quiet = quiet

    def _write(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()

    def note(self, message: str) -> None:
        self._write(f"  {message}\n")

    @contextmanager
    def step(self, name: str, detail: str = "") -> Iterator[StepTime]:
        """`detail` (e.g. the time left) shows while the step runs, not in its end line."""
        start = time.monotonic()
        shown = f"{name} {detail}" if detail else name
        timing = StepTime()
        done = threading.Event()
        ticker = None
        if self.live and not self.quiet:
            def redraw() -> None:
                while not done.wait(1.0):
                    self._write(f"\r  ... {shown} ({time.monotonic() - start:.0f} s)")
            self._write(f"  ... {shown}")
            ticker = threading.Thread(target=redraw, daemon=True)
            ticker.start()
        else:
            self._write(f"  ... {shown}\n")
        outcome = "failed"
        try:
            yield timing
            outcome = "done"
        except (KeyboardInterrupt, SystemExit):  # the trial's record says "aborted" too
            outcome = "aborted"
            raise
        finally:
            done.set()
            timing.seconds = round(time.monotonic() - start, 2)
            if ticker:
                ticker.join()
                self._write("\r\033[K")
            self._write(f"  {outcome:>6} {name} ({timing.seconds:.1f} s)\n")


SILENT = Progress(quiet=True)
