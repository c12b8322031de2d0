"""The host side of a network workload: the servers its instance talks to.

Each server listens only on the host's address on that instance's network path (loopback,
Docker's bridge, the run's libvirt bridge), runs on the harness's CPUs rather than the
instance's (it inherits the harness's affinity), and is bounded twice: the trial kills it in
`finally`, and coreutils `timeout` kills it by itself should the harness die first.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import IO

import psutil

from bench.definitions.workload import HostServer
from bench.errors import BenchError

SERVER_ENV = "BENCH_SERVER"  # the launcher hands it on to the workload's command
LISTEN_ENV = "BENCH_LISTEN"  # where a server workload's own server binds inside the instance
# In each host server's environment: its name (the instance's, then the server's), by which
# `bench clean` finds one that a killed harness left running.
OWNER_ENV = "VMCTB_HOST_SERVER"
LISTEN_WAIT_S = 10.0
EXIT_WAIT_S = 10.0
# Beyond the trial's own timeout: setup and teardown happen while the servers run.
LIFETIME_MARGIN_S = 120


@dataclass(frozen=True)
class Route:
    """One way the host's client reaches the instance's server."""

    path: str  # the figures' path dimension: model.dimensions.HOST, DNAT, PROXY, BRIDGE or TAP
    address: str
    port: int | None = None  # where the host reaches the server's port, when it is not that port


@dataclass(frozen=True)
class NetworkPath:
    """How an instance reaches the host: the host's address there, and what the path is."""

    host_address: str
    description: str
    # Where a host-side client reaches a server the instance runs (None: not on this path yet),
    # and the address that server binds inside the instance.
    instance_address: str | None = None
    listen: str = "0.0.0.0"
    instance_port: int | None = None  # where the host reaches the server's port, when it is not that port
    kind: str = ""  # the path dimension of a server's figures reached this way
    more: tuple[Route, ...] = ()  # other ways the host reaches the same server (Docker's userland proxy)

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every way a host-side client reaches the server, the path's own first."""
        if self.instance_address is None:
            return ()
        return (Route(self.kind, self.instance_address, self.instance_port), *self.more)


def server_env(env: dict[str, str], path: NetworkPath | None) -> dict[str, str]:
    """The launcher's environment: with a network path, where the host's servers are and where
    the instance's own server binds."""
    return env if path is None else {**env, SERVER_ENV: path.host_address, LISTEN_ENV: path.listen}


class HostServers:
    def __init__(self, owner: str, servers: tuple[HostServer, ...], path: NetworkPath, lifetime_s: float):
        self.owner = owner  # the instance's name
        self.servers = servers
        self.path = path
        self.lifetime_s = int(lifetime_s + LIFETIME_MARGIN_S)
        self.procs: list[subprocess.Popen[bytes]] = []
        # Each server's messages, read only if it fails to start: an unlinked file, unlike a
        # pipe nobody drains, never blocks a server that keeps writing.
        self._messages: list[IO[bytes]] = []

    def start(self) -> None:
        """Start every server and return once each listens; a BenchError names the one that did not."""
        for server in self.servers:
            if shutil.which(server.command[0]) is None:
                raise BenchError(f"host server {server.name}: {server.command[0]} is not installed on the "
                                 "host (`make setup` installs it)")
            argv = ["timeout", "--signal=KILL", str(self.lifetime_s), *server.argv(self.path.host_address)]
            self._messages.append(tempfile.TemporaryFile())
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=self._messages[-1], start_new_session=True,
                                    env={**os.environ, OWNER_ENV: f"{self.owner}-{server.name}"})
            self.procs.append(proc)
            self._awaitlistening(server, proc, self._messages[-1])

    def _awaitlistening(self, server: HostServer, proc: subprocess.Popen[bytes], messages: IO[bytes]) -> None:
        deadline = time.monotonic() + LISTEN_WAIT_S
        while not listening(self.path.host_address, server.port, _tree(proc.pid)):
            if proc.poll() is not None:
                messages.seek(0)
                said = messages.read().decode(errors="replace").strip().splitlines()
                raise BenchError(f"host server {server.name} exited (code {proc.returncode}) before listening "
                                 f"on {self.path.host_address}:{server.port}: {said[-1] if said else 'no message'}")
            if time.monotonic() > deadline:
                raise BenchError(f"host server {server.name} is not listening on "
                                 f"{self.path.host_address}:{server.port} after {LISTEN_WAIT_S:g} s")
            time.sleep(0.02)

    def describe(self) -> str:
        cpus = ",".join(map(str, sorted(os.sched_getaffinity(0))))
        names = ", ".join(f"{s.name} on :{s.port}" for s in self.servers)
        return f"{names}; listening on {self.path.host_address} only; on host CPU {cpus}"

    def stop(self) -> None:
        """Kill every server and return once each has exited: its port is free for the next trial."""
        for proc in self.procs:
            members = _members(proc.pid)  # before the kill: `timeout` dies first, orphaning its child
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
            _await_exit(members)
        for messages in self._messages:
            messages.close()
        self.procs.clear()
        self._messages.clear()


def _members(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _await_exit(procs: list[psutil.Process]) -> None:
    """Until each process has exited (a zombie holds no socket); SIGKILL'ed, that is milliseconds."""
    deadline = time.monotonic() + EXIT_WAIT_S
    for proc in procs:
        while time.monotonic() < deadline:
            try:
                if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            time.sleep(0.01)


def _tree(pid: int) -> set[int]:
    """The pid and its descendants; empty once the pid has gone."""
    members = _members(pid)
    return {pid, *(m.pid for m in members)} if members or psutil.pid_exists(pid) else set()


def listening(address: str, port: int, pids: set[int] | None = None) -> bool:
    """Something listens on address:port; with `pids`, one of those processes (not a stranger
    that holds the port)."""
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.ip == address and c.laddr.port == port
               and (pids is None or c.pid in pids)
               for c in psutil.net_connections(kind="tcp4"))


def leftovers() -> dict[str, list[int]]:
    """Host servers running now, by their name: the pids of each (coreutils' timeout and the
    server under it)."""
    found: dict[str, list[int]] = {}
    for proc in psutil.process_iter(["environ"]):
        name = (proc.info["environ"] or {}).get(OWNER_ENV)
        if name:
            found.setdefault(name, []).append(proc.pid)
    return found


def kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
