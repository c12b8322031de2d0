"""The LXC platform's configuration, written per instance: cgroup v1 here, v2 on most lab
machines (a fake tree stands in); and a host without LXC refused before a run starts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.host import cgroup
from bench.model.resources import Resources
from bench.net.network import RunNetwork
from bench.platforms import lxc, preflight

RESOURCES = Resources(cpus=1, memory_mib=512, cpuset=(1,))


def keys(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" = ")
        found.setdefault(key, []).append(value)
    return found


def config(**overrides: object) -> dict[str, list[str]]:
    args: dict = dict(name="vmctb-r1-4-lxc", rootfs="/cache/rootfs/abc/rootfs", upper=Path("/cache/instances/x/upper"),
                      command=["/usr/local/lib/bench/launcher", "--hold", "cpu"], env={"PATH": "/usr/bin", "LC_ALL": "C"},
                      resources=RESOURCES, network=None, instance=0)
    args.update(overrides)
    return keys(lxc.config_text(**args))


@pytest.fixture
def v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "memory").mkdir()
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    return tmp_path


def test_an_instance_runs_the_launcher_on_an_overlay_of_the_shared_rootfs(v1: Path) -> None:
    found = config()
    assert found["lxc.rootfs.path"] == ["overlay:/cache/rootfs/abc/rootfs:/cache/instances/x/upper"]
    assert found["lxc.init.cmd"] == ["/usr/local/lib/bench/launcher --hold cpu"]
    assert found["lxc.environment"] == ["LC_ALL=C", "PATH=/usr/bin"]
    assert found["lxc.include"] == ["/usr/share/lxc/config/common.conf"]
    assert found["lxc.net.0.type"] == ["empty"]  # loopback only
    # Named after the instance, so `bench clean` finds a crashed run's groups by the harness's prefix.
    assert found["lxc.cgroup.dir.container"] == ["vmctb-r1-4-lxc"]
    assert found["lxc.cgroup.dir.monitor"] == ["vmctb-r1-4-lxc-monitor"]


def test_limits_on_cgroup_v1_with_and_without_swap_accounting(v1: Path) -> None:
    found = config()
    assert found["lxc.cgroup.cpuset.cpus"] == ["1"] and found["lxc.cgroup.cpu.cfs_quota_us"] == ["100000"]
    assert found["lxc.cgroup.memory.limit_in_bytes"] == [str(512 * 2**20)]
    assert "lxc.cgroup.memory.memsw.limit_in_bytes" not in found
    (v1 / "memory" / "memory.memsw.limit_in_bytes").write_text("0\n")
    assert config()["lxc.cgroup.memory.memsw.limit_in_bytes"] == [str(512 * 2**20)]  # no swap


def test_limits_on_cgroup_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu memory\n")
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    found = config(resources=Resources(cpus=2, memory_mib=1024, cpuset=(2, 3)))
    assert found["lxc.cgroup2.cpuset.cpus"] == ["2,3"] and found["lxc.cgroup2.cpu.max"] == ["200000 100000"]
    assert found["lxc.cgroup2.memory.max"] == [str(2**30)] and found["lxc.cgroup2.memory.swap.max"] == ["0"]
    assert not any(k.startswith("lxc.cgroup.") and "dir" not in k for k in found)


def test_a_network_workload_gets_a_veth_on_the_runs_network(v1: Path) -> None:
    network = RunNetwork(name="vmctb-r1-lxc-net", bridge="vmctb12345678",
                         subnet=ipaddress.IPv4Network("10.213.7.0/24"), conn=None)  # type: ignore[arg-type]
    found = config(network=network, instance=2)
    assert found["lxc.net.0.type"] == ["veth"] and found["lxc.net.0.link"] == ["vmctb12345678"]
    assert found["lxc.net.0.ipv4.address"] == ["10.213.7.4/24"]


def test_a_host_without_lxc_is_refused_before_the_run_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lxc.shutil, "which", lambda _name: None)
    with pytest.raises(BenchError) as caught:
        preflight(("native", "lxc"))
    assert str(caught.value) == "platform lxc: LXC is not installed (`make run` installs Debian's lxc)"
