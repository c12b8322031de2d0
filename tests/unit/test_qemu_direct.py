"""QEMU run directly (vm-micro, vm-qemu): its command line, its monitor, its boot lines, and how
`bench clean` finds a process it left. A real QEMU boots in tests/integration/test_vm_micro.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.guest import bootlines, qmp
from bench.guest.console import Console
from bench.guest.qemu import QemuSpec, leftover_processes
from bench.images import vmdisk


def spec(machine: str, firmware: str, tmp_path: Path, accel: str = "tcg") -> QemuSpec:
    return QemuSpec(name="vmctb-1-2-vm-micro", accel=accel, machine=machine, firmware=firmware,
                    kernel=Path("/k"), initramfs=Path("/i"), cmdline="console=ttyS0", socket_dir=tmp_path,
                    disk=tmp_path / "o.qcow2", nvram=tmp_path / "v.fd" if firmware == "ovmf" else None)


def test_microvm_gets_qboot_mmio_devices_and_starts_paused(tmp_path: Path) -> None:
    argv = spec("microvm", "qboot", tmp_path).argv()
    joined = " ".join(argv)
    assert argv[argv.index("-M") + 1].startswith("microvm,") and "acpi=on" in joined
    assert argv[argv.index("-bios") + 1] == "bios-microvm.bin" and "-S" in argv and "-nodefaults" in argv
    assert "virtio-blk-device,drive=root" in argv and "virtio-blk-pci" not in joined
    assert f"unix:{tmp_path}/vmctb-1-2-vm-micro.qmp,server=on,wait=off" in argv and "-cpu" not in argv


def test_a_nic_is_virtio_net_on_the_machine_s_transport(tmp_path: Path) -> None:
    from dataclasses import replace

    micro = replace(spec("microvm", "qboot", tmp_path), tap="vmctbt1a2b3c4d").argv()
    assert "tap,id=net0,ifname=vmctbt1a2b3c4d,script=no,downscript=no" in micro
    assert "virtio-net-device,netdev=net0" in micro
    assert "virtio-net-pci,netdev=net0" in replace(spec("pc", "seabios", tmp_path), tap="t").argv()


def test_the_pc_twin_and_uefi(tmp_path: Path) -> None:
    pc = spec("pc", "seabios", tmp_path, accel="kvm").argv()
    assert pc[pc.index("-M") + 1] == "pc" and "virtio-blk-pci,drive=root" in pc
    assert pc[pc.index("-cpu") + 1] == "host" and pc[pc.index("-bios") + 1] == "bios-256k.bin"
    uefi = spec("q35", "ovmf", tmp_path).argv()
    assert "-bios" not in uefi and f"if=pflash,format=raw,file={tmp_path / 'v.fd'}" in uefi


def fake_qemu(path: Path, replies: list[dict], seen: list[str]) -> threading.Thread:
    """A QMP server that greets, then answers each command with the next reply (an event first)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn, conn.makefile("rwb") as f:
            f.write(json.dumps({"QMP": {"version": {}}}).encode() + b"\n")
            f.flush()
            for reply in replies:
                seen.append(json.loads(f.readline())["execute"])
                f.write(b'{"event": "RESUME"}\n' + json.dumps(reply).encode() + b"\n")
                f.flush()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_qmp_negotiates_then_executes_skipping_events(tmp_path: Path) -> None:
    seen: list[str] = []
    fake_qemu(tmp_path / "m.qmp", [{"return": {}}, {"return": {}}, {"error": {"desc": "no"}}], seen)
    with qmp.connect(tmp_path / "m.qmp", time.monotonic() + 5, lambda: True) as monitor:
        assert monitor.execute("cont") == {}
        with pytest.raises(qmp.QMPError, match="^QMP quit: no$"):
            monitor.execute("quit")
    assert seen == ["qmp_capabilities", "cont", "quit"]


def test_qmp_gives_up_when_qemu_is_gone(tmp_path: Path) -> None:
    with pytest.raises(qmp.QMPError, match="exited before its monitor listened"):
        with qmp.connect(tmp_path / "none.qmp", time.monotonic() + 5, lambda: False):
            pass


def test_boot_lines_mark_the_firmware_and_kernel_ends() -> None:
    console = Console()
    for line in (b"SeaBIOS (version 1.16.2)\n", b"Booting from ROM..\n", b"Probing EDD (edd=off to disable)... ok\n",
                 b"[    0.000000] Linux version 6.1.0\n", b"@@BENCH INIT\n", b"[    1.9] virtio_blk\n"):
        console.feed(line)
        time.sleep(0.002)
    lines = {line.text: line.t_ns for line in console._lines}
    assert bootlines.boot_events(console) == {"firmware": lines["Probing EDD (edd=off to disable)... ok"],
                                              "kernel": lines["@@BENCH INIT"]}
    uefi = Console()
    uefi.feed(b"BdsDxe: loading Boot0001\nEFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID device path\n")
    assert set(bootlines.boot_events(uefi)) == {"firmware"}


def test_clean_finds_a_direct_qemu_by_its_monitor_socket(tmp_path: Path) -> None:
    """Any process whose -qmp names the instances directory and the harness's prefix; no other."""
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-qmp",
                             f"unix:{tmp_path}/vmctb-9-1-vm-micro.qmp,server=on,wait=off"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-qmp", f"unix:{tmp_path}/mine.qmp"])
    try:
        assert leftover_processes(tmp_path, "vmctb-") == {"vmctb-9-1-vm-micro": ours.pid}
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait()
    assert leftover_processes(tmp_path, "vmctb-") == {}


DUMPE2FS = """\
Inodes per group:         8
Group 0: (Blocks 0-8191)
  Free inodes: 6-8
Group 1: (Blocks 8192-16383)
  Free inodes: 9, 11-12, 14-16
Group 2: (Blocks 16384-24575)
  Free inodes: 
"""


def test_used_inodes_are_each_groups_range_less_its_free_ones() -> None:
    assert vmdisk.used_inodes(DUMPE2FS) == [1, 2, 3, 4, 5, 10, 13, *range(17, 25)]
