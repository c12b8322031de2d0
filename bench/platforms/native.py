"""Native: the launcher runs on the host kernel, chrooted into the image's rootfs directory."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

from bench import config
from bench.platforms.base import Driver, Instance, TrialContext

# The same environment the other platforms start with: nothing inherited from the caller.
CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


class NativeInstance(Instance):
    platform = "native"

    def __init__(self, ctx: TrialContext):
        super().__init__(ctx)
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self.facts["rootfs"] = ctx.manifest.rootfs_dir

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["chroot", self.ctx.manifest.rootfs_dir, config.GUEST_LAUNCHER, self.ctx.workload.name],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=CLEAN_ENV, start_new_session=True)
        self.mark("spawned")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            self.console.feed(chunk)
        self.console.close(f"process exited with code {self.proc.wait()}")

    def teardown(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the launcher and its workload
            except ProcessLookupError:
                pass
        self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class NativeDriver(Driver):
    name = "native"

    def prepare(self, ctx: TrialContext) -> Instance:
        return NativeInstance(ctx)
