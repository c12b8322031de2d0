"""Native: the launcher runs on the host kernel, chrooted into the image's rootfs directory.

The workload runs as the unprivileged bench user (the launcher drops root with setpriv),
pinned to the suite's CPUs, in a cgroup with the suite's memory limit where one can be made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

from bench.host.cgroup import MemoryCgroup
from bench.model.resources import Resources
from bench.model.dimensions import HOST
from bench.net.servers import NetworkPath, server_env
from bench.platforms.base import Driver, Instance, TrialContext, follow, user_tree_footprint
from bench.probes import isolation, processes
from bench.probes.disk import Footprint, filesystem_of, tree_allocated

# The same environment the other platforms start with: nothing inherited from the caller.
CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
LOOPBACK = NetworkPath("127.0.0.1", "loopback: lo in the host's own network namespace (no bridge, no veth)",
                       instance_address="127.0.0.1", listen="127.0.0.1", kind=HOST)


class NativeInstance(Instance):
    platform = "native"

    def __init__(self, ctx: TrialContext, resources: Resources):
        super().__init__(ctx)
        self.resources = resources
        self.proc: subprocess.Popen[bytes] | None = None
        self.cgroup: MemoryCgroup | None = None
        self._reader: threading.Thread | None = None
        self.facts["rootfs"] = ctx.rootfs_dir
        self.facts["storage"] = f"the rootfs directory: {filesystem_of(Path(ctx.rootfs_dir))}; the host's page cache (O_DIRECT bypasses it)"
        self.facts.update(isolation.shared_kernel())

    def setup(self) -> None:
        if self.ctx.workload.network:
            self.network = LOOPBACK
        self.cgroup, self.facts["memory_limit"] = MemoryCgroup.create(
            self.ctx.name(self.platform), self.resources.memory_bytes, self.resources.pids_max)
        self.facts["pids_limit"] = self.cgroup.pids_limit if self.cgroup else "no pids limit (no cgroup)"

    def _enter_limits(self) -> None:  # in the child, between fork and exec
        os.sched_setaffinity(0, self.resources.cpuset)
        if self.cgroup is not None:
            self.cgroup.join_from_child()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["chroot", self.ctx.rootfs_dir, self.ctx.launcher, "--hold", self.ctx.launch_name],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=server_env(CLEAN_ENV, self.network), start_new_session=True, preexec_fn=self._enter_limits)
        self.mark("spawned")
        self._reader = follow(self.proc, self.console, "process")

    def host_pids(self) -> list[int]:
        if self.proc is None:
            return []
        if self.cgroup is not None:
            return processes.read_procs(self.cgroup.path / "cgroup.procs")
        return processes.tree(self.proc.pid)

    def main_pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None  # chroot has exec'ed the launcher

    def release_tree_probe(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGUSR1)

    def teardown(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the launcher and its workload
                except ProcessLookupError:
                    pass
            self.proc.wait()
        if self.cgroup is not None:
            self.cgroup.kill_members()
            self.cgroup.remove()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


class NativeDriver(Driver):
    name = "native"

    def prepare(self, ctx: TrialContext) -> Instance:
        return NativeInstance(ctx, self.resources)

    def _measure_image(self, ctx: TrialContext) -> Footprint:
        if ctx.user_image is not None:
            return user_tree_footprint(ctx.user_image)
        return Footprint(tree_allocated(Path(ctx.rootfs_dir)),
                         "rootfs directory, allocated bytes (hard links once)")
