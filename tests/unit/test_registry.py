"""The platform registry: one declaration per platform, and docker:RUNTIME for any runtime."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.model import registry
from bench.platforms import preflight
from bench.platforms.container import require_runtime


def test_every_registered_platform_is_found_by_name_in_report_order() -> None:
    assert registry.NAMES == ("native", "docker", "docker-volume", "docker-app", "docker-hostnet", "gvisor", "podman",
                              "lxc", "vm", "vm-docker", "vm-os", "vm-qemu", "vm-micro")
    assert [registry.get(n).name for n in registry.NAMES] == list(registry.NAMES)
    assert sorted(["vm-micro", "vm", "vm:q35", "docker:crun", "native", "gvisor", "docker"], key=registry.order) == \
        ["native", "docker", "docker:crun", "gvisor", "vm", "vm:q35", "vm-micro"]
    assert registry.order("something-newer") == len(registry.NAMES)  # last, not an error


def test_docker_runtime_is_docker_with_that_runtime() -> None:
    crun = registry.get("docker:crun")
    assert (crun.kind, crun.runtime, crun.image_name) == ("container", "crun", "container, full OS, OCI runtime crun")
    assert crun.build_steps == registry.get("docker").build_steps and not crun.volume and not crun.app_image
    assert registry.get("gvisor").runtime == "runsc" and registry.get("docker").runtime == ""
    assert registry.slug("docker:kata-runtime") == "docker-kata-runtime"


@pytest.mark.parametrize("name, message", [
    ("kata", "unknown platform 'kata' (known: native, docker, docker-volume, docker-app, docker-hostnet, gvisor, podman, lxc, vm, "
             "vm-docker, vm-os, vm-qemu, vm-micro, docker:RUNTIME or vm:OPTIONS (vm:q35, vm:uefi, vm:vmdk, ...))"),
    ("vm:microvm", "unknown platform 'vm:microvm': 'microvm' is no VM option (pc, q35, uefi, vmdk, vhdx, vdi, raw)"),
    ("vm:q35-pc", "unknown platform 'vm:q35-pc': two machine options"),
    ("docker:", "unknown platform 'docker:': a runtime's name is letters, digits, '_', '.' or '-'"),
    ("docker:../x", "unknown platform 'docker:../x': a runtime's name is"),
    ("podman:crun", "unknown platform 'podman:crun' (known: "),
])
def test_an_unknown_platform_is_one_line(name: str, message: str) -> None:
    with pytest.raises(BenchError) as caught:
        registry.get(name)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert registry.known(name) is None


def test_labels_name_a_vm_with_its_accelerator() -> None:
    assert registry.label("vm", "tcg") == "vm-minimal/tcg" and registry.label("vm-os", "kvm") == "vm-os/kvm"
    assert registry.label("docker:crun", "tcg") == "docker:crun" and registry.label("unknown") == "unknown"
    assert registry.by_label("vm-minimal") == "vm" and registry.is_vm("vm-os") and not registry.is_vm("gvisor")


class Engine:
    def __init__(self, runtimes: list[str]):
        self.runtimes = runtimes

    def info(self) -> dict:
        return {"Runtimes": {name: {"path": name} for name in self.runtimes}, "DefaultRuntime": "runc"}


def test_a_runtime_the_engine_lacks_is_refused_in_one_line() -> None:
    engine = Engine(["io.containerd.runc.v2", "runc", "crun"])
    require_runtime(engine, registry.get("docker:crun"))  # type: ignore[arg-type]
    require_runtime(engine, registry.get("docker"))  # type: ignore[arg-type]  (the engine's default)
    with pytest.raises(BenchError) as caught:
        require_runtime(engine, registry.get("gvisor"))  # type: ignore[arg-type]
    assert str(caught.value) == (
        "platform gvisor: the Docker engine has no runtime 'runsc' (it has: crun, io.containerd.runc.v2, runc); "
        "register it under \"runtimes\" in /etc/docker/daemon.json and reload dockerd (SIGHUP)")


def test_preflight_asks_the_engine_only_when_a_runtime_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.host import engines

    asked = []
    monkeypatch.setattr(engines, "docker_client", lambda: asked.append(1) or Engine(["runc"]))
    preflight(("native", "docker", "vm"))
    assert asked == []
    with pytest.raises(BenchError, match="^platform docker:kata: the Docker engine has no runtime 'kata'"):
        preflight(("native", "docker:kata"))
    assert asked == [1]


def test_a_vm_machine_model_is_the_vm_on_that_machine_and_firmware() -> None:
    q35, uefi, both = (registry.get(n) for n in ("vm:q35", "vm:uefi", "vm:q35-uefi"))
    assert (q35.kind, q35.machine, q35.firmware, q35.boot_profile) == ("vm", "q35", "seabios", "minimal")
    assert (uefi.machine, uefi.firmware) == ("pc", "ovmf") and (both.machine, both.firmware) == ("q35", "ovmf")
    assert registry.label("vm:q35", "tcg") == "vm:q35/tcg" and registry.slug("vm:q35-uefi") == "vm-q35-uefi"
    assert registry.is_vm("vm-micro") and registry.get("vm-micro").kind == "qemu"
    vmdk = registry.get("vm:q35-vmdk")
    assert (vmdk.machine, vmdk.firmware, vmdk.disk_format, vmdk.artifact) == ("q35", "seabios", "vmdk", "vm_disk")
    assert vmdk.image_format.startswith("vmdk disk, converted from the qcow2 base by qemu-img")


def test_preflight_refuses_what_this_qemu_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.guest import qemu

    monkeypatch.setattr(qemu, "machines", lambda: frozenset({"pc", "microvm"}))
    monkeypatch.setattr(qemu, "firmware_missing", lambda firmware: "")
    preflight(("native", "vm", "vm-micro"))
    with pytest.raises(BenchError, match=r"^platform vm:q35: qemu-system-x86_64 here has no machine model 'q35'$"):
        preflight(("vm", "vm:q35"))
    preflight(("native", "vm-micro"), networked=("native", "vm-micro"))  # a tap device on the run's network
    monkeypatch.setattr(qemu, "firmware_missing", lambda firmware: "no OVMF" if firmware == "ovmf" else "")
    with pytest.raises(BenchError, match="^platform vm:uefi: no OVMF$"):
        preflight(("vm:uefi",))
    monkeypatch.setattr(qemu, "disk_formats", lambda: frozenset({"qcow2", "raw", "vmdk"}))
    preflight(("vm:vmdk", "vm:raw"))
    with pytest.raises(BenchError, match="^platform vm:vhdx: qemu-img here has no disk format 'vhdx'$"):
        preflight(("vm:vmdk", "vm:vhdx"))
