from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.guest.vm import GuestSpec


def spec(**overrides: object) -> GuestSpec:
    values: dict = dict(name="vmctb-r1-1-vm", run_id="r1", accel="tcg", kernel=Path("/k/vmlinuz"),
                        initramfs=Path("/k/initramfs.img"), cmdline="console=ttyS0 bench.workload=a&b",
                        disk=Path("/c/instances/vmctb-r1-1-vm.qcow2"))
    values.update(overrides)
    return GuestSpec(**values)


def test_tcg_guest_is_a_qemu_domain_with_the_default_cpu() -> None:
    root = ET.fromstring(spec().domain_xml())
    assert root.get("type") == "qemu"
    assert root.find("cpu") is None
    assert root.findtext("os/cmdline") == "console=ttyS0 bench.workload=a&b"
    assert root.find("devices/disk/source").get("file") == "/c/instances/vmctb-r1-1-vm.qcow2"
    assert root.findtext("on_poweroff") == "destroy"
    assert root.find("features/acpi") is not None


def test_kvm_guest_passes_the_host_cpu_through() -> None:
    root = ET.fromstring(spec(accel="kvm").domain_xml())
    assert root.get("type") == "kvm"
    assert root.find("cpu").get("mode") == "host-passthrough"
    assert ET.fromstring(spec(accel="kvm", cpu_mode="default").domain_xml()).find("cpu") is None


def test_probe_guest_has_no_disk_and_carries_the_run_id() -> None:
    xml = spec(disk=None).domain_xml()
    root = ET.fromstring(xml)
    assert root.find("devices/disk") is None
    assert "r1" in xml and root.findtext("name") == "vmctb-r1-1-vm"


def test_unknown_accelerator() -> None:
    with pytest.raises(BenchError, match="unknown accelerator 'hvf'"):
        spec(accel="hvf").domain_xml()


def test_a_network_workload_gets_one_virtio_nic_on_the_named_network() -> None:
    root = ET.fromstring(spec(network="vmctb-r1-net").domain_xml())
    [nic] = root.findall("devices/interface")
    assert nic.get("type") == "network"
    assert nic.find("source").get("network") == "vmctb-r1-net"
    assert nic.find("model").get("type") == "virtio"
    assert ET.fromstring(spec().domain_xml()).find("devices/interface") is None
