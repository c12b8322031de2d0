"""The Podman network a run defines for its network workloads, and removes afterwards.

Internal (no NAT, no route beyond the bridge) and without DNS, like the VMs' libvirt network;
the host holds the gateway, .1. netavark makes the bridge only when a container joins and
deletes it when the last one leaves, but the host's servers must listen on the gateway before
the instance starts: so each trial makes the bridge itself, with the gateway's address, and
netavark takes it as it finds it. `bench clean` removes a crashed run's network (found by its
label) and the bridge it may have left.
"""

from __future__ import annotations

import ipaddress
import subprocess

from bench import config
from bench.errors import BenchError
from bench.host.podman_cli import labelled, podman
from bench.net.network import HostBridge, free_subnets
from bench.model.dimensions import BRIDGE
from bench.net.servers import NetworkPath

# Apart from the libvirt networks' range: Podman's bridge is absent between trials, so a
# libvirt network made meanwhile would not see this subnet in use.
CANDIDATES = [ipaddress.IPv4Network(f"10.213.{n}.0/24") for n in range(64, 128)]


class PodmanNetwork(HostBridge):
    def instance_address(self, k: int) -> str:
        """The k-th instance's address (`podman create --ip`): where the host's client finds its
        server. An internal network publishes no ports; the host reaches it over the bridge."""
        return str(self.subnet.network_address + 2 + k)

    def path(self, k: int) -> NetworkPath:
        return NetworkPath(self.host_address,
                           f"Podman network {self.name} (internal: no NAT or forwarding, no DNS), bridge "
                           f"{self.bridge} {self.subnet} by netavark; a veth pair, the container at "
                           f"{self.instance_address(k)}, the host at {self.host_address}",
                           instance_address=self.instance_address(k), kind=BRIDGE)

    @classmethod
    def create(cls, run_id: str) -> PodmanNetwork:
        name = f"{config.NAME_PREFIX}{run_id}-podman-net"
        for subnet in free_subnets(CANDIDATES):
            try:
                podman("network", "create", "--internal", "--disable-dns", f"--subnet={subnet}",
                       f"--gateway={subnet.network_address + 1}", f"--label={config.RUN_LABEL}={run_id}", name, timeout=30)
            except BenchError as e:
                if "already used" in str(e):  # by another Podman network, whose bridge is down
                    continue
                raise
            return cls(name, interface_of(name), subnet)
        raise BenchError(f"podman: no free /24 among {CANDIDATES[0]} … {CANDIDATES[-1]} for the run's network")

    def raise_bridge(self) -> None:
        """The bridge, up, with the host's address: before the host's servers bind to it."""
        if not _exists(self.bridge):
            _ip("link", "add", self.bridge, "type", "bridge")
        if self.host_address not in _ip("-o", "-4", "addr", "show", "dev", self.bridge):
            _ip("addr", "add", f"{self.host_address}/{self.subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def destroy(self) -> None:
        remove(self.name, self.bridge)


def interface_of(name: str) -> str:
    """The bridge netavark uses for a Podman network."""
    return podman("network", "inspect", "--format", "{{.NetworkInterface}}", name, timeout=30).strip()


def remove(name: str, bridge: str | None = None) -> None:
    """A network and its bridge, if a trial left it up (netavark removes only what it uses)."""
    bridge = bridge or interface_of(name)
    if bridge and _exists(bridge):
        _ip("link", "delete", bridge)
    podman("network", "rm", "--force", name, timeout=60)


def leftover_networks() -> list[str]:
    return labelled("network", "ls")


def _exists(interface: str) -> bool:
    return subprocess.run(["ip", "link", "show", "dev", interface], capture_output=True).returncode == 0


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"ip {' '.join(args)}: {done.stderr.strip() or 'exit ' + str(done.returncode)}")
    return done.stdout
