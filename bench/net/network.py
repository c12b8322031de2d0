"""The libvirt network a run defines for its VMs' network workloads, and removes afterwards.

One per VM platform (vm, vm-os) that runs a network workload. Isolated: no <forward>, so
libvirt routes nothing beyond the bridge; no DHCP and no DNS, so no dnsmasq runs. The host
holds .1 on the bridge, guests get static addresses from .2 (the harness's initramfs sets them
from the kernel command line). Transient: it is gone when destroyed, and `bench clean`
destroys one a crashed run left (found by its name prefix).
"""

from __future__ import annotations

import hashlib
import ipaddress
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import libvirt
import psutil

from bench import config
from bench.errors import BenchError
from bench.model.dimensions import TAP
from bench.net.servers import NetworkPath

# Candidate /24s, tried in order; one that any host interface already uses is skipped. Podman's
# networks take theirs from 10.213.64.0/18 (bench/net/podman_network.py).
CANDIDATES = [ipaddress.IPv4Network(f"10.213.{n}.0/24") for n in range(0, 64)]


@dataclass
class HostBridge:
    """A run's network: a bridge on the host, which holds the subnet's first address."""

    name: str
    bridge: str
    subnet: ipaddress.IPv4Network

    @property
    def host_address(self) -> str:
        return str(self.subnet.network_address + 1)


@dataclass
class RunNetwork(HostBridge):
    conn: libvirt.virConnect

    def guest_address(self, k: int) -> str:
        """The k-th instance's address, with its prefix length."""
        return f"{self.subnet.network_address + 2 + k}/{self.subnet.prefixlen}"

    def path(self, k: int, link: str = "virtio-net, the guest", kind: str = TAP) -> NetworkPath:
        return NetworkPath(self.host_address,
                           f"libvirt network {self.name} (isolated: no forwarding, no DHCP or DNS), bridge "
                           f"{self.bridge} {self.subnet}; {link} at {self.guest_address(k)}, "
                           f"the host at {self.host_address}",
                           instance_address=self.guest_address(k).split("/")[0], kind=kind)

    def xml(self) -> str:
        net = ET.Element("network")
        ET.SubElement(net, "name").text = self.name
        ET.SubElement(net, "bridge", name=self.bridge, stp="off", delay="0")
        ET.SubElement(net, "dns", enable="no")
        ET.SubElement(net, "ip", address=self.host_address, netmask=str(self.subnet.netmask))
        return ET.tostring(net, encoding="unicode")

    @classmethod
    def create(cls, conn: libvirt.virConnect, run_id: str, platform: str) -> RunNetwork:
        """The network of one VM platform (vm, vm-os) in one run."""
        name = f"{config.NAME_PREFIX}{run_id}-{platform}-net"
        # Linux allows 15 characters for an interface name: a digest of the unique network name.
        bridge = f"{config.NAME_PREFIX.rstrip('-')}{hashlib.sha256(name.encode()).hexdigest()[:8]}"
        for subnet in free_subnets(CANDIDATES):
            network = cls(name=name, bridge=bridge, subnet=subnet, conn=conn)
            try:
                conn.networkCreateXML(network.xml())
                return network
            except libvirt.libvirtError as e:
                if "in use" in str(e):  # a route libvirt saw and we did not: try the next
                    continue
                raise BenchError(f"libvirt: creating network {name}: {e.get_error_message()}") from None
        raise BenchError(f"libvirt: no free /24 among {CANDIDATES[0]} … {CANDIDATES[-1]} for the run's network")

    def destroy(self) -> None:
        try:
            self.conn.networkLookupByName(self.name).destroy()
        except libvirt.libvirtError:
            pass  # never created, or already gone


def free_subnets(candidates: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
    """The candidates no host interface's address falls in."""
    used = []
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family.name == "AF_INET" and a.netmask:
                used.append(ipaddress.IPv4Interface(f"{a.address}/{a.netmask}").network)
    return [c for c in candidates if not any(c.overlaps(u) for u in used)]
