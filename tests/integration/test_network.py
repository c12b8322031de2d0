"""The net workload for real: native over loopback, a container on Docker's default bridge, a
Podman container on the run's own Podman network, a VM (both boot profiles: two networks in
one run) on the run's own libvirt network, vm-micro on a tap device of its own on another; and nothing of it left afterwards — no bridge, no
libvirt or Podman network, no iptables rule, no server still listening."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import libvirt
import psutil

from bench.definitions import workload as workloads
from bench.guest.vm import GuestSpec
from bench.host import engines, podman_cli
from bench.net import tap
from bench.net.network import RunNetwork
from bench.net.podman_network import PodmanNetwork
from bench.operations import cleanup
from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench, require_platforms

SUITE = """\
name = "it-net"
platforms = ["native", "docker", "podman", "lxc", "vm", "vm-os", "vm-micro"]
workloads = ["net"]
repetitions = 1
warmup = 0
seed = 17
seconds = 1  # the paths and their cleanup are tested, not the figures: 1 s per client, not 5
"""
COUNTERS = re.compile(r"\[\d+:\d+\]")
# libvirtd installs its top-level chains, and the jumps into them, the first time it starts any
# network and keeps them for good (empty once its networks are gone): on a fresh host the first
# VM network makes them. They are libvirt's, not the run's; the rules a run's network adds sit
# inside them and are compared.
LIBVIRT_SCAFFOLD = re.compile(r":LIBVIRT_[A-Z]+ -|-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) -j LIBVIRT_[A-Z]+")
DEFAULT_POLICY = re.compile(r":[A-Z]+ ACCEPT")  # a built-in chain as an unloaded table has it


def iptables_rules(saved: str) -> list[str]:
    """`iptables-save` as "table rule" lines: rules, user chains and non-default policies. A table
    that only now got loaded (libvirt loads mangle) adds nothing but default ACCEPT policies."""
    table, rules = "", []
    for line in saved.splitlines():
        line = COUNTERS.sub("", line).strip()  # packet counters change by themselves
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(("-A", ":")) and not (DEFAULT_POLICY.fullmatch(line) or LIBVIRT_SCAFFOLD.fullmatch(line)):
            rules.append(f"{table} {line}")
    return rules


def host_network_state() -> dict[str, list[str]]:
    """What a network workload could leave on the host, in comparable form."""
    bridges = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True,
                             check=True).stdout
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    net = workloads.load("net")
    ports = {s.port for s in net.servers}
    conn = engines.libvirt_connection()
    try:
        networks = sorted(n.name() for n in conn.listAllNetworks())
    finally:
        conn.close()
    return {
        "bridges": sorted(line.split(":")[1].strip() for line in bridges.splitlines()),
        "libvirt networks": networks,
        "podman networks": podman_cli.podman("network", "ls", "--format", "{{.Name}}").split(),
        "iptables": iptables_rules(rules),
        "listening": sorted(f"{c.laddr.ip}:{c.laddr.port}" for c in psutil.net_connections("tcp4")
                            if c.status == psutil.CONN_LISTEN and c.laddr.port in ports),
    }


def test_net_on_every_platform_leaves_nothing_behind(tmp_path: Path, images: dict) -> None:
    require_platforms("native", "docker", "podman", "lxc", "vm", "vm-os", "vm-micro")
    before = host_network_state()
    proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert host_network_state() == before

    run = RunDir.open(only_run_dir(tmp_path / "runs"))
    records = {r.platform: r for r in run.records()}
    assert sorted(records) == ["docker", "lxc", "native", "podman", "vm", "vm-micro", "vm-os"]
    found = {}
    for platform, record in records.items():
        assert record.ok, record.summary()
        found[platform] = {s.metric: s.value for s in record.samples}
        values = found[platform]
        assert values["throughput_mbit_s"] > 0
        assert 0 < values["rtt_p50_us"] <= values["rtt_p99_us"]
    paths = {p: r.facts["network_path"] for p, r in records.items()}
    run_id = run.info().run_id
    assert paths["native"].startswith("loopback")
    assert paths["docker"].startswith("Docker's default bridge")
    assert paths["podman"].startswith(f"Podman network vmctb-{run_id}-podman-net (internal")
    assert paths["lxc"].startswith(f"libvirt network vmctb-{run_id}-lxc-net (isolated")
    assert paths["vm"].startswith(f"libvirt network vmctb-{run_id}-vm-net (isolated")
    assert paths["vm-os"].startswith(f"libvirt network vmctb-{run_id}-vm-os-net (isolated")
    assert paths["vm-micro"].startswith(f"libvirt network vmctb-{run_id}-vm-micro-net (isolated")
    assert "virtio-net on a tap device (vmctbt" in paths["vm-micro"]
    host = {p: r.facts["network_servers"].split("listening on ")[1].split()[0] for p, r in records.items()}
    assert host["native"] == "127.0.0.1" and host["vm"].startswith("10.213.") and host["vm-os"].startswith("10.213.")
    assert len({host["vm"], host["vm-os"], host["vm-micro"], host["podman"], host["lxc"]}) == 5  # each its own subnet
    assert host["docker"] in paths["docker"] and host["podman"] in paths["podman"]
    # The same path, a veth pair on a host bridge, in Docker's and in Podman's container.
    assert records["podman"].facts["network"] == "the run's internal Podman network"
    if records["vm"].accel == "tcg":
        # Every packet of an emulated NIC goes through TCG: slower and later than the host's loopback.
        assert found["vm"]["rtt_p50_us"] > found["native"]["rtt_p50_us"]
        assert found["vm"]["throughput_mbit_s"] < found["native"]["throughput_mbit_s"]


def test_a_leftover_run_network_is_found_and_cleaned(images: dict) -> None:
    conn = engines.libvirt_connection()
    network = RunNetwork.create(conn, "20990101-000000-dead", "vm")
    try:
        assert f"libvirt network {network.name}" in cleanup.leftovers()
        assert f"removed libvirt network {network.name}" in bench("clean").stdout
        assert cleanup.leftovers() == []
        assert network.bridge not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    finally:
        network.destroy()
        conn.close()


def test_a_leftover_tap_device_is_found_and_cleaned(images: dict) -> None:
    """A crashed vm-micro trial's tap device on its run's network: `bench clean` removes both."""
    conn = engines.libvirt_connection()
    network = RunNetwork.create(conn, "20990101-000000-beef", "vm-micro")
    device = tap.create("vmctb-20990101-000000-beef-1-vm-micro", network.bridge)
    try:
        assert "tap device vmctb-20990101-000000-beef-1-vm-micro" in cleanup.leftovers()
        cleaned = bench("clean").stdout
        assert "removed tap device vmctb-20990101-000000-beef-1-vm-micro" in cleaned, cleaned
        assert cleanup.leftovers() == [] and device not in psutil.net_if_addrs()
    finally:
        tap.remove(device)
        network.destroy()
        conn.close()


def test_a_leftover_podman_network_and_its_bridge_are_found_and_cleaned(images: dict) -> None:
    network = PodmanNetwork.create("20990101-000000-dead")
    try:
        network.raise_bridge()  # as a run that died between its trial's setup and its container
        assert f"podman network {network.name}" in cleanup.leftovers()
        assert f"removed podman network {network.name}" in bench("clean").stdout
        assert cleanup.leftovers() == []
        assert network.bridge not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    finally:
        if network.name in podman_cli.podman("network", "ls", "--format", "{{.Name}}").split():
            network.destroy()


def test_a_leftover_transient_domain_is_reported_as_removed(images: dict) -> None:
    """A transient domain ceases to exist on destroy: clean must still say it removed it."""
    spec = GuestSpec(name="vmctb-20990101-000000-dead-1-vm", run_id="20990101-000000-dead", accel="tcg",
                     kernel=Path(images["kernel"]["path"]), initramfs=Path(images["initramfs"]["path"]),
                     cmdline="console=ttyS0 bench.probe=x")
    conn = engines.libvirt_connection()
    try:
        conn.createXML(spec.domain_xml(), libvirt.VIR_DOMAIN_START_PAUSED)  # no autodestroy: a crashed run's
        assert f"removed domain {spec.name}" in bench("clean").stdout
        assert cleanup.leftovers() == []
    finally:
        try:
            conn.lookupByName(spec.name).destroy()
        except libvirt.libvirtError:
            pass
        conn.close()
