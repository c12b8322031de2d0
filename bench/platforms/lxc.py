"""LXC: a system container (Debian's lxc, `lxc-start` in the foreground as its monitor) of the
same rootfs directory the native platform chroots into, under an overlay whose upper layer is
the instance's own, so the shared directory is never written.

Its configuration is written per instance, in the run's instances directory (`lxc-start -P`),
so nothing under /var/lib/lxc or /etc/lxc is touched: LXC's own defaults for a system container
(common.conf: a seccomp deny list, capabilities dropped, a device allow list), /dev made by
LXC, no TTYs; the launcher as init, its output on lxc-start's stdout; the suite's cpuset, CPU
quota and memory (no swap) as cgroup settings, v1 or v2; its cgroups named after the instance,
so `bench clean` finds them. No network unless the workload needs one: then a veth on the run's
isolated libvirt network, as the VMs have.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import psutil

from bench import config
from bench.errors import BenchError
from bench.host import cgroup, engines
from bench.model.registry import BY_NAME, Platform
from bench.model.resources import Resources
from bench.net.network import RunNetwork
from bench.model.dimensions import BRIDGE
from bench.net.servers import server_env
from bench.platforms.base import Driver, Instance, TrialContext, follow, user_tree_footprint
from bench.platforms.native import CLEAN_ENV
from bench.platforms.vmboot import instances_dir
from bench.probes import isolation, processes
from bench.probes.disk import Footprint, filesystem_of, tree_allocated

COMMON_CONF = Path("/usr/share/lxc/config/common.conf")
STOP_TIMEOUT_S = 30
MONITOR_SUFFIX = "-monitor"  # the cgroup of lxc-start itself, beside the container's


def version() -> str:
    """LXC's version; a one-line BenchError where it is not installed."""
    if shutil.which("lxc-start") is None or not COMMON_CONF.exists():
        raise BenchError("platform lxc: LXC is not installed (`make run` installs Debian's lxc)")
    done = subprocess.run(["lxc-start", "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or "?"


def apparmor_profile() -> str:
    """LXC's generated profile where the host enforces AppArmor; otherwise there is none to load."""
    try:
        enabled = Path("/sys/module/apparmor/parameters/enabled").read_text().strip() == "Y"
    except OSError:
        enabled = False
    return "generated" if enabled and shutil.which("apparmor_parser") else "unconfined"


def limits(resources: Resources) -> list[str]:
    """The suite's cpuset, CPU quota and memory without swap, as LXC cgroup keys."""
    period = 100_000
    quota = int(resources.cpus * period)
    memory = resources.memory_bytes
    if cgroup.is_v2():
        return [f"lxc.cgroup2.cpuset.cpus = {resources.cpuset_text}", f"lxc.cgroup2.cpu.max = {quota} {period}",
                f"lxc.cgroup2.memory.max = {memory}", "lxc.cgroup2.memory.swap.max = 0",
                f"lxc.cgroup2.pids.max = {resources.pids_max}"]
    keys = [f"lxc.cgroup.cpuset.cpus = {resources.cpuset_text}", f"lxc.cgroup.cpu.cfs_period_us = {period}",
            f"lxc.cgroup.cpu.cfs_quota_us = {quota}", f"lxc.cgroup.memory.limit_in_bytes = {memory}",
            f"lxc.cgroup.pids.max = {resources.pids_max}"]
    if (cgroup.ROOT / "memory" / "memory.memsw.limit_in_bytes").exists():  # swap accounting is on
        keys.append(f"lxc.cgroup.memory.memsw.limit_in_bytes = {memory}")
    return keys


def config_text(name: str, rootfs: str, upper: Path, command: list[str], env: dict[str, str],
                resources: Resources, network: RunNetwork | None, instance: int) -> str:
    lines = [f"lxc.include = {COMMON_CONF}", f"lxc.uts.name = {name[-63:]}",
             f"lxc.rootfs.path = overlay:{rootfs}:{upper}", "lxc.autodev = 1", "lxc.tty.max = 0",
             "lxc.pty.max = 16", "lxc.console.path = none", f"lxc.apparmor.profile = {apparmor_profile()}",
             f"lxc.cgroup.dir.container = {name}", f"lxc.cgroup.dir.monitor = {name}{MONITOR_SUFFIX}",
             f"lxc.init.cmd = {' '.join(command)}", *(f"lxc.environment = {k}={v}" for k, v in sorted(env.items())),
             *limits(resources)]
    if network is None:
        lines.append("lxc.net.0.type = empty")  # its own network namespace, with loopback only
    else:
        lines += ["lxc.net.0.type = veth", f"lxc.net.0.link = {network.bridge}", "lxc.net.0.flags = up",
                  f"lxc.net.0.ipv4.address = {network.guest_address(instance)}"]
    return "\n".join(lines) + "\n"


class LXCInstance(Instance):
    platform = "lxc"
    host_processes = "lxc-start (LXC's monitor) and every process in the container's cgroup"

    def __init__(self, ctx: TrialContext, resources: Resources, runtime: str, network: RunNetwork | None):
        super().__init__(ctx)
        self.resources = resources
        self.name = ctx.name(self.platform)
        self.path = instances_dir() / self.name
        self.run_network = network
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._init_pid: int | None = None
        self._procs_file: Path | None = None
        rootfs = Path(ctx.rootfs_dir)
        self.facts.update(
            rootfs=ctx.rootfs_dir, runtime=runtime,
            storage=f"overlay: the rootfs directory ({filesystem_of(rootfs)}) under an upper layer of the "
                    f"instance's own; the host's page cache (O_DIRECT bypasses it)",
            security=f"LXC's common.conf (a seccomp deny list; mac_admin, mac_override, sys_time, sys_module and sys_rawio "
                     f"dropped; a device allow list), "
                     f"AppArmor {apparmor_profile()}, root in the container (no user namespace)")
        self.facts.update(isolation.shared_kernel())

    def setup(self) -> None:
        if self.run_network is not None:
            self.network = self.run_network.path(self.ctx.instance, "a veth pair, the container", BRIDGE)
        self.facts["network"] = self.run_network.name if self.run_network else "none (loopback only)"
        (self.path / "upper").mkdir(parents=True)
        command = [self.ctx.launcher, "--hold", self.ctx.launch_name]
        (self.path / "config").write_text(config_text(
            self.name, self.ctx.rootfs_dir, self.path / "upper", command, server_env(CLEAN_ENV, self.network),
            self.resources, self.run_network, self.ctx.instance))

    def start(self) -> None:
        # In the foreground, so lxc-start is the monitor and the launcher's output is its stdout.
        self.proc = subprocess.Popen(["lxc-start", "-P", str(self.path.parent), "-n", self.name, "-F"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.mark("spawned")
        self._reader = follow(self.proc, self.console, "lxc-start")

    def host_pids(self) -> list[int]:
        """lxc-start, then the members of the container's cgroup."""
        if self.proc is None:
            return []
        if self._init_pid is None:
            try:
                children = psutil.Process(self.proc.pid).children()
            except psutil.Error:
                return [self.proc.pid]
            if not children:
                return [self.proc.pid]
            self._init_pid = children[0].pid
            self._procs_file = processes.cgroup_procs_file(self._init_pid)
        if self._procs_file is None:
            return [self.proc.pid] + processes.tree(self._init_pid)
        return [self.proc.pid] + processes.read_procs(self._procs_file)

    def main_pid(self) -> int | None:
        self.host_pids()
        return self._init_pid

    def release_tree_probe(self) -> None:
        if (pid := self.main_pid()) is not None:
            os.kill(pid, signal.SIGUSR1)

    def disk_growth(self) -> Footprint | None:
        upper = self.path / "upper"
        return Footprint(tree_allocated(upper), "the overlay's upper directory, allocated bytes") if upper.exists() else None

    def teardown(self) -> None:
        try:
            if self.proc is not None:
                if self.proc.poll() is None:
                    try:
                        stop(self.name, self.path.parent)
                        self.proc.wait(timeout=STOP_TIMEOUT_S)
                    except (BenchError, subprocess.TimeoutExpired):
                        os.killpg(self.proc.pid, signal.SIGKILL)  # the container's init dies with it
                        self.proc.wait()
                if self._reader is not None:
                    self._reader.join(timeout=5)
                if self.proc.stdout is not None:
                    self.proc.stdout.close()
        finally:
            remove_cgroups(self.name)
            shutil.rmtree(self.path, ignore_errors=True)


def stop(name: str, lxcpath: Path) -> None:
    """Kill the container at once (lxc-stop -k): the workload's result is already read."""
    try:
        subprocess.run(["lxc-stop", "-P", str(lxcpath), "-n", name, "-k"], capture_output=True, timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchError(f"lxc-stop {name}: no answer within {STOP_TIMEOUT_S} s") from None


def remove_cgroups(name: str) -> None:
    """The container's and its monitor's cgroups, where lxc-start could not remove them (it
    was killed): in every hierarchy."""
    for group in (name, name + MONITOR_SUFFIX):
        cgroup.remove_everywhere(group)


def leftover_containers() -> list[str]:
    """The harness's LXC containers: the instance directories that hold a config."""
    found = (config.cache_dir() / "instances").glob(f"{config.NAME_PREFIX}*")  # made by no listing
    return sorted(p.name for p in found if (p / "config").is_file())


def remove(name: str) -> None:
    """A crashed run's container: stopped, its cgroups and directory removed."""
    path = config.cache_dir() / "instances" / name
    if shutil.which("lxc-stop") is not None:  # without LXC, only its cgroups can hold anything
        stop(name, path.parent)
    remove_cgroups(name)
    shutil.rmtree(path, ignore_errors=True)


class LXCDriver(Driver):
    name = "lxc"

    def __init__(self, resources: Resources, platform: Platform = BY_NAME["lxc"]) -> None:
        super().__init__(resources)
        self.platform = platform
        self.runtime = f"LXC {version()} (lxc-start in the foreground as the container's monitor)"
        self.network: RunNetwork | None = None  # made when the run's first network workload needs it

    def prepare(self, ctx: TrialContext) -> Instance:
        if ctx.workload.network and self.network is None:
            self.network = RunNetwork.create(engines.libvirt_connection(), ctx.run_id, self.name)
        return LXCInstance(ctx, self.resources, self.runtime, self.network if ctx.workload.network else None)

    def close(self) -> None:
        if self.network is not None:
            self.network.destroy()
            self.network.conn.close()
            self.network = None

    def _measure_image(self, ctx: TrialContext) -> Footprint:
        if ctx.user_image is not None:
            return user_tree_footprint(ctx.user_image)
        return Footprint(tree_allocated(Path(ctx.rootfs_dir)),
                         "rootfs directory (shared with native), allocated bytes (hard links once)")
