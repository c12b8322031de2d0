"""What a real-host test module may not change: the host's network state outside what the
harness creates and labels.

A snapshot is a set of facts, each one line of text under a heading (links, addresses, routes,
firewall rules, Docker, Podman and libvirt networks). Two snapshots differ by the facts only one
of them has; a fact that names something the harness labels (the `vmctb` prefix of its
interfaces, networks and rules, or the harness's label on a Docker or Podman network) is the
harness's own and is not compared: the leftover check says whether it was removed.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bench import config

HARNESS_MARK = config.NAME_PREFIX.rstrip("-")  # in its bridges' names (vmctb1a2b3c4d) and networks'


@dataclass(frozen=True)
class HostState:
    facts: frozenset[tuple[str, str]]  # (heading, fact)

    def own(self) -> frozenset[tuple[str, str]]:
        """The facts about anything the harness did not create."""
        return frozenset(f for f in self.facts if HARNESS_MARK not in f[1])


def differences(before: HostState, after: HostState) -> list[str]:
    """Each fact that one snapshot has and the other lacks, as 'removed …' or 'added …'."""
    old, new = before.own(), after.own()
    return ([f"removed {heading}: {fact}" for heading, fact in sorted(old - new)]
            + [f"added {heading}: {fact}" for heading, fact in sorted(new - old)])


# --- reading the host ------------------------------------------------------------------------

def _output(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def links(ip_link_json: str) -> set[str]:
    """`ip -j link show`: name, kind, administratively up or not, and its bridge. Not the index,
    MAC or carrier: a bridge recreated by its engine, or one whose last port left, is the same."""
    found = set()
    for link in json.loads(ip_link_json or "[]"):
        up = "up" if "UP" in link.get("flags", []) else "down"
        master = f" in {link['master']}" if link.get("master") else ""
        found.add(f"{link['ifname']} ({link.get('link_type', '?')}, {up}){master}")
    return found


def addresses(ip_addr_json: str) -> set[str]:
    """`ip -j addr show`: each interface's addresses. IPv6 link-local ones are left out: the
    kernel derives them from the MAC when a link first gets carrier, on its own."""
    found = set()
    for link in json.loads(ip_addr_json or "[]"):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet6" and a.get("scope") == "link":
                continue
            found.add(f"{link['ifname']} {a.get('local')}/{a.get('prefixlen')}")
    return found


def routes(ip_route_json: str) -> set[str]:
    """`ip -j route show table all`: type, destination, device, gateway, table, source. Not the
    kernel's IPv6 link-local and multicast routes: they follow a link's carrier, as its
    link-local address does."""
    found = set()
    for r in json.loads(ip_route_json or "[]"):
        dst = r.get("dst", "?")
        if dst.startswith(("fe80:", "ff00:")):
            continue
        via = f" via {r['gateway']}" if r.get("gateway") else ""
        src = f" src {r['prefsrc']}" if r.get("prefsrc") else ""
        found.add(f"{r.get('type', 'unicast')} {dst} dev {r.get('dev', '-')}{via} table {r.get('table', 'main')}{src}")
    return found


COUNTERS = re.compile(r" \[\d+:\d+\]$")


def firewall(saved: str) -> set[str]:
    """`iptables-save` text: every chain and rule, per table, without counters or comments. A
    rule that stands twice is two facts: a daemon that adds its rules again on a restart shows."""
    found: set[str] = set()
    table = "?"
    for line in saved.splitlines():
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            table = line[1:]
            continue
        fact = f"{table} {COUNTERS.sub('', line)}"
        copy = 1
        while fact + (f" (copy {copy})" if copy > 1 else "") in found:
            copy += 1
        found.add(fact + (f" (copy {copy})" if copy > 1 else ""))
    return found


def docker_networks() -> set[str]:
    from bench.host import engines

    client = engines.docker_client(timeout=30)
    found = set()
    for n in client.api.networks():
        if config.LABEL in " ".join(n.get("Labels") or {}):
            continue
        ipam = [f"{c.get('Subnet')} gateway {c.get('Gateway', 'none')}" for c in (n.get("IPAM") or {}).get("Config") or []]
        found.add(f"{n['Name']} ({n['Driver']}) {', '.join(ipam) or 'no IPAM'}")
    return found


def podman_networks() -> set[str]:
    found = set()
    for n in json.loads(_output(["podman", "network", "ls", "--format", "json"]) or "[]"):
        if config.LABEL in " ".join(n.get("labels") or {}):
            continue
        subnets = ", ".join(f"{s.get('subnet')} gateway {s.get('gateway', 'none')}" for s in n.get("subnets") or [])
        found.add(f"{n['name']} ({n.get('driver')}) on {n.get('network_interface')} {subnets}")
    return found


def libvirt_networks() -> set[str]:
    from bench.host import engines

    conn = engines.libvirt_connection()
    try:
        return {f"{n.name()} ({'active' if n.isActive() else 'inactive'})" for n in conn.listAllNetworks()}
    finally:
        conn.close()


def _tool(name: str) -> Callable[[], str]:
    return lambda: _output([name])


READERS: dict[str, Callable[[], Iterable[str]]] = {
    "link": lambda: links(_output(["ip", "-j", "link", "show"])),
    "address": lambda: addresses(_output(["ip", "-j", "addr", "show"])),
    "route": lambda: routes(_output(["ip", "-j", "route", "show", "table", "all"]))
    | routes(_output(["ip", "-j", "-6", "route", "show", "table", "all"])),
    "iptables": lambda: firewall(_tool("iptables-save")()),
    "ip6tables": lambda: firewall(_tool("ip6tables-save")()),
    "docker network": docker_networks,
    "podman network": podman_networks,
    "libvirt network": libvirt_networks,
}


def snapshot() -> HostState:
    return HostState(frozenset((heading, fact) for heading, read in READERS.items() for fact in read()))
