"""The host side of the net workload without a real network: workload keys, the run's libvirt
network definition, and host servers (a local HTTP server stands in for iperf3)."""

from __future__ import annotations

import ipaddress
import socket
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from bench.definitions import workload
from bench.definitions.workload import HostServer
from bench.errors import BenchError
from bench.net import network as run_network
from bench.net.network import RunNetwork
from bench.net.servers import HostServers, NetworkPath, listening, server_env
from bench.net.servers import kill as kill_servers
from bench.net.servers import leftovers as server_leftovers
from bench.platforms import container
from tests.conftest import VALID_WORKLOAD, write_workload

LOOPBACK = NetworkPath("127.0.0.1", "loopback")
OWNER = "vmctb-20990101-000000-test-1-native"
NETWORK = 'network = true\n'
SERVER = '[servers.echo]\ncommand = ["echo-server", "--bind", "{address}"]\nport = 5201\n'


def with_keys(top: str, tables: str = "") -> str:
    """The valid workload with top-level keys (before its [score]) and tables (after it)."""
    return VALID_WORKLOAD.format(name="w").replace("expected_s = 5\n", "expected_s = 5\n" + top) + tables


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_server(port: int) -> HostServer:
    return HostServer("http", (sys.executable, "-m", "http.server", "--bind", "{address}", str(port)), port)


def test_a_network_workload_declares_its_host_servers(workloads_dir: Path) -> None:
    write_workload(workloads_dir, "w", with_keys(NETWORK, SERVER))
    loaded = workload.load("w")
    assert loaded.network
    assert loaded.servers == (HostServer("echo", ("echo-server", "--bind", "{address}"), 5201),)
    assert loaded.servers[0].argv("10.0.0.1") == ["echo-server", "--bind", "10.0.0.1"]


@pytest.mark.parametrize("top, tables, message", [
    ("", SERVER, "servers: host servers need `network = true`"),
    (NETWORK, SERVER.replace('"--bind", "{address}"', '"--all"'), "servers.echo.command: must bind to {address}"),
    (NETWORK, SERVER.replace("5201", "80"), "servers.echo.port: must be at least 1024"),
    (NETWORK, SERVER.replace("5201", "70000"), "servers.echo.port: 70000 is not a TCP port"),
    (NETWORK, SERVER.replace("port = 5201\n", ""), "servers.echo.port: missing"),
    ('network = "yes"\n', "", "network: must be true or false"),
])
def test_network_mistakes_are_one_line(workloads_dir: Path, top: str, tables: str, message: str) -> None:
    write_workload(workloads_dir, "w", with_keys(top, tables))
    with pytest.raises(BenchError) as err:
        workload.load("w")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_only_a_single_instance_or_stress_workload_has_a_network(workloads_dir: Path) -> None:
    text = with_keys(NETWORK + 'kind = "density"\n')
    write_workload(workloads_dir, "w", text[:text.index("[score]")])
    with pytest.raises(BenchError, match="network: only a single-instance or stress workload can have a network, not kind .density."):
        workload.load("w")


def test_the_shipped_net_workload_contacts_only_the_host_server() -> None:
    net = workload.load("net", Path(__file__).resolve().parents[2] / "workloads")
    assert net.network and {s.name for s in net.servers} == {"iperf3", "sockperf"}
    script = " ".join(net.command)
    # Every client is pointed at $BENCH_SERVER and stops by itself after --time.
    assert script.count('"$BENCH_SERVER"') == 2 and script.count("--time {seconds}") == 2 and net.seconds == 5
    assert {"throughput_mbit_s", "rtt_p50_us", "rtt_p99_us"} <= set(net.metrics)


def test_servers_listen_on_the_given_address_and_are_gone_after_stop() -> None:
    port = free_port()
    servers = HostServers(OWNER, (http_server(port),), LOOPBACK, lifetime_s=30)
    try:
        servers.start()
        assert listening("127.0.0.1", port)
        [proc] = servers.procs
        assert proc.poll() is None
    finally:
        servers.stop()
    assert proc.poll() is not None and not listening("127.0.0.1", port)
    assert "http on :%d; listening on 127.0.0.1 only" % port in servers.describe()


def test_a_server_its_harness_left_is_found_by_name_and_killed() -> None:
    port = free_port()
    servers = HostServers(OWNER, (http_server(port),), LOOPBACK, lifetime_s=30)
    try:
        servers.start()
        [proc] = servers.procs
        found = server_leftovers()  # as a `bench clean` after a crash sees them
        assert set(found) >= {f"{OWNER}-http"} and proc.pid in found[f"{OWNER}-http"]
        kill_servers(found[f"{OWNER}-http"])
        proc.wait(timeout=10)
        assert not listening("127.0.0.1", port) and f"{OWNER}-http" not in server_leftovers()
    finally:
        servers.stop()


def test_a_server_that_cannot_listen_is_a_one_line_error() -> None:
    port = free_port()
    with socket.socket() as taken:  # the port is in use: http.server exits with an error
        taken.bind(("127.0.0.1", port))
        taken.listen()
        servers = HostServers(OWNER, (http_server(port),), LOOPBACK, lifetime_s=30)
        with pytest.raises(BenchError) as err:
            servers.start()
        servers.stop()
    assert f"host server http exited (code 1) before listening on 127.0.0.1:{port}" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_server_program_names_itself() -> None:
    missing = HostServer("ghost", ("no-such-server-program", "{address}"), 5999)
    with pytest.raises(BenchError, match="host server ghost: no-such-server-program is not installed"):
        HostServers(OWNER, (missing,), LOOPBACK, lifetime_s=5).start()


def test_the_launcher_learns_the_host_address_only_with_a_network() -> None:
    assert server_env({"PATH": "/bin"}, None) == {"PATH": "/bin"}
    assert server_env({"PATH": "/bin"}, LOOPBACK) == {"PATH": "/bin", "BENCH_SERVER": "127.0.0.1",
                                                      "BENCH_LISTEN": LOOPBACK.listen}


def test_the_run_network_is_isolated_and_needs_no_dnsmasq() -> None:
    net = RunNetwork(conn=None, name="vmctb-r1-net", bridge="vmctb0a1b",  # type: ignore[arg-type]
                     subnet=ipaddress.IPv4Network("10.213.5.0/24"))
    root = ET.fromstring(net.xml())
    assert root.find("forward") is None  # isolated: libvirt routes nothing off the bridge
    assert root.find("dns").get("enable") == "no" and root.find("ip/dhcp") is None
    assert root.find("ip").attrib == {"address": "10.213.5.1", "netmask": "255.255.255.0"}
    assert root.find("bridge").get("name") == "vmctb0a1b" and len("vmctb0a1b") <= 15
    assert net.guest_address(0) == "10.213.5.2/24" and net.guest_address(3) == "10.213.5.5/24"
    assert "the guest at 10.213.5.2/24" in net.path(0).description
    assert net.path(0).host_address == "10.213.5.1"


def test_subnets_the_host_uses_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    class Addr:
        def __init__(self, address: str, netmask: str):
            self.family, self.address, self.netmask = socket.AF_INET, address, netmask

    monkeypatch.setattr(run_network.psutil, "net_if_addrs",
                        lambda: {"eth0": [Addr("10.213.0.7", "255.255.255.0")], "wide": [Addr("10.213.2.1", "255.255.254.0")]})
    free = run_network.free_subnets(run_network.CANDIDATES)
    assert str(free[0]) == "10.213.1.0/24" and ipaddress.IPv4Network("10.213.2.0/24") not in free
    assert ipaddress.IPv4Network("10.213.3.0/24") not in free and str(free[1]) == "10.213.4.0/24"


class InspectOnly:
    """A Docker client whose engine answers only `inspect_network`, with the given payload."""

    def __init__(self, payload: dict) -> None:
        self.api = self
        self.payload = payload

    def inspect_network(self, name: str) -> dict:
        assert name == "bridge"
        return self.payload


def bridge_payload(interface: str, subnet: str, gateway: str | None = None) -> dict:
    """`docker network inspect bridge` as docker.io 20.10 answers it; on its first start on a
    new host the IPAM config has a Subnet and no Gateway."""
    config = {"Subnet": subnet, **({"Gateway": gateway} if gateway else {})}
    return {"Name": "bridge", "IPAM": {"Driver": "default", "Options": None, "Config": [config]},
            "Options": {"com.docker.network.bridge.default_bridge": "true",
                        "com.docker.network.bridge.name": interface}}


def snic(family: int, address: str) -> SimpleNamespace:  # the fields of psutil's snicaddr we read
    return SimpleNamespace(family=family, address=address)


def test_the_default_bridges_gateway_is_taken_from_ipam_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: {"docker0": [snic(socket.AF_INET, "172.17.0.1")]})
    path = container.default_bridge(InspectOnly(bridge_payload("docker0", "172.17.0.0/16", "172.17.0.1")))
    assert path.host_address == "172.17.0.1"
    assert "docker0 (172.17.0.0/16)" in path.description


def test_without_an_ipam_gateway_the_bridge_interfaces_address_is_the_hosts() -> None:
    # The loopback interface stands in for docker0: a real interface with a real address.
    path = container.default_bridge(InspectOnly(bridge_payload("lo", "127.0.0.0/8")))
    assert path.host_address == "127.0.0.1"


def test_the_bridge_address_must_lie_in_the_networks_subnet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: {"docker0": [
        snic(socket.AF_INET6, "fe80::1"), snic(socket.AF_INET, "10.9.0.1"), snic(socket.AF_INET, "172.17.0.1")]})
    assert container.bridge_address("docker0", "172.17.0.0/16") == "172.17.0.1"
    assert container.bridge_address("docker0", "?") == "10.9.0.1"  # no subnet: any IPv4 address
    assert container.bridge_address("docker1", "172.17.0.0/16") is None


@pytest.mark.parametrize(("interface", "gateway", "state"), [
    ("vmctb-no-such-if", None, "does not exist"),  # a first start's engine, its docker0 deleted
    ("vmctb-no-such-if", "172.17.0.1", "does not exist"),  # the IPAM names a gateway that is gone
    ("lo", None, "has no address in 172.17.0.0/16")])  # addresses, all outside the subnet
def test_a_bridge_without_the_hosts_address_is_a_one_line_sentence_with_the_fix(
        interface: str, gateway: str | None, state: str) -> None:
    with pytest.raises(BenchError) as raised:
        container.default_bridge(InspectOnly(bridge_payload(interface, "172.17.0.0/16", gateway)))
    assert str(raised.value) == (
        f"docker: the default bridge network (172.17.0.0/16) has no way to the host: its interface {interface} "
        f"{state}, so a container's network workload cannot reach the harness's servers; restart dockerd, "
        "which makes the bridge again (a dockerd started with --bridge=none deletes it)")


def test_doctor_names_a_broken_bridge_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.host import engines
    from bench.operations import doctor

    payload = bridge_payload("vmctb-no-such-if", "172.17.0.0/16")
    monkeypatch.setattr(engines, "docker_client", lambda timeout=None: InspectOnly(payload))
    check = doctor.check_docker_bridge()
    assert not check.ok and check.fix == container.BRIDGE_FIX
    assert check.detail.endswith("vmctb-no-such-if does not exist, so a container's network workload cannot reach "
                                 "the harness's servers: network workloads fail on Docker platforms")
    payload.update(bridge_payload("lo", "127.0.0.0/8"))
    assert doctor.check_docker_bridge().ok


def test_a_run_with_a_network_workload_on_docker_is_refused_before_any_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.host import engines
    from bench.platforms import preflight

    monkeypatch.setattr(engines, "docker_client", lambda: InspectOnly(bridge_payload("vmctb-no-such-if", "172.17.0.0/16")))
    preflight(("native", "docker", "vm"), networked=("native", "vm"))  # no Docker platform on the network: not asked
    with pytest.raises(BenchError, match=r"^docker, docker-volume cannot run the suite's network workloads: docker: "
                                         r"the default bridge network \(172.17.0.0/16\) has no way"):
        preflight(("native", "docker", "docker-volume"), networked=("native", "docker", "docker-volume"))


def test_podman_networks_take_subnets_apart_from_libvirt_networks() -> None:
    # A Podman network's bridge is down between trials, where a libvirt network made meanwhile
    # cannot see it: the two must never pick the same /24.
    from bench.net import podman_network

    assert not {str(n) for n in podman_network.CANDIDATES} & {str(n) for n in run_network.CANDIDATES}
    assert all(n.prefixlen == 24 and n.subnet_of(ipaddress.IPv4Network("10.213.0.0/16"))
               for n in podman_network.CANDIDATES)
