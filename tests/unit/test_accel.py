"""The accelerator verdict, on a fake libvirt whose guests boot, hang or fail as each test says:
KVM usable → kvm; host-passthrough failing → the default CPU model; every KVM guest hung →
unusable → TCG; the verdict cached per boot of the host; a corrupt cache probed anew."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import config
from bench.errors import BenchError
from bench.guest import vm
from bench.host import engines, facts
from bench.images import kernel
from bench.images.kernel import BootFiles
from bench.operations import accel
from bench.progress import SILENT
from tests.unit.fake_libvirt import BOOTS, HANGS, FakeHypervisor

MSR = "failed to set MSR 0x10a to 0x0"
DEADLINE_S = 0.2  # how long a hung fake guest is given: it never speaks, so any deadline does


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A cache of our own, a boot id the test sets, /dev/kvm as the test says, and a fake
    libvirt (set `host["hypervisor"]` before probing)."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    state: dict = {"boot_id": "boot-1", "kvm": True, "hypervisor": None}
    monkeypatch.setattr(facts, "boot_id", lambda: state["boot_id"])
    monkeypatch.setattr(accel, "kvm_present", lambda: (state["kvm"], "/dev/kvm opens (kvm_pvm)" if state["kvm"]
                                                       else "/dev/kvm does not exist"))
    boot = BootFiles(tmp_path / "vmlinuz", tmp_path / "initramfs.img", "test", "6.1.0-test", ())
    monkeypatch.setattr(kernel, "ensure", lambda _progress: boot)
    monkeypatch.setattr(engines, "libvirt_connection", lambda: state["hypervisor"])
    monkeypatch.setattr(vm.libvirt, "open", lambda _uri: state["hypervisor"])  # the console's connection
    return state


def examine(host: dict, behaviour: dict[tuple[str, str], str], **kwargs: object) -> accel.Verdict:
    host["hypervisor"] = FakeHypervisor(behaviour)
    return accel.examine(SILENT, kvm_deadline_s=DEADLINE_S, **kwargs)


def test_kvm_that_boots_is_chosen_with_the_hosts_cpu(host: dict) -> None:
    verdict = examine(host, {("kvm", "host-passthrough"): BOOTS})
    assert host["hypervisor"].kinds() == [("kvm", "host-passthrough")]  # no fallback, no TCG probe
    assert verdict.chosen is not None and (verdict.chosen.accel, verdict.chosen.cpu_mode) == ("kvm", "host-passthrough")
    assert verdict.summary() == "KVM usable (cpu host-passthrough); VMs will run under KVM"
    assert accel.choose(SILENT) == ("kvm", "host-passthrough")
    assert all(d.destroyed for d in host["hypervisor"].created)


def test_a_cpu_mode_qemu_refuses_falls_back_to_the_default_model(host: dict) -> None:
    verdict = examine(host, {("kvm", "host-passthrough"): MSR, ("kvm", "default"): BOOTS})
    assert host["hypervisor"].kinds() == [("kvm", "default")]  # passthrough never got a domain
    first, second = verdict.probes
    assert (first.usable, first.detail) == (False, f"QEMU did not start: {MSR}")
    assert (second.accel, second.cpu_mode, second.usable) == ("kvm", "default", True)
    assert accel.choose(SILENT) == ("kvm", "default")
    assert accel.choose(SILENT, "kvm") == ("kvm", "default")  # forcing KVM takes the mode that worked


def test_kvm_guests_that_hang_make_kvm_unusable_and_tcg_chosen(host: dict) -> None:
    verdict = examine(host, {("kvm", "host-passthrough"): HANGS, ("kvm", "default"): HANGS, ("tcg", "default"): BOOTS})
    assert host["hypervisor"].kinds() == [("kvm", "host-passthrough"), ("kvm", "default"), ("tcg", "default")]
    hung = verdict.probes[:2]
    assert [p.usable for p in verdict.probes] == [False, False, True]
    assert all(p.detail == f"guest hung: no console output at all within {DEADLINE_S:g} s; domain destroyed"
               for p in hung)
    assert all(d.destroyed for d in host["hypervisor"].created)  # a hung guest is not left spinning
    assert verdict.summary() == "KVM present but unusable; VMs will run under TCG emulation"
    assert accel.choose(SILENT) == ("tcg", "default")


def test_without_kvm_only_tcg_is_probed(host: dict) -> None:
    host["kvm"] = False
    verdict = examine(host, {("tcg", "default"): BOOTS})
    assert host["hypervisor"].kinds() == [("tcg", "default")]
    assert verdict.summary() == "KVM not present; VMs will run under TCG emulation"


def test_no_accelerator_at_all_is_one_line(host: dict) -> None:
    examine(host, {("kvm", "host-passthrough"): HANGS, ("kvm", "default"): HANGS, ("tcg", "default"): MSR})
    with pytest.raises(BenchError, match=r"^no VM accelerator works on this host \(run `bench doctor`\)$"):
        accel.choose(SILENT)


def test_the_verdict_holds_for_this_boot_and_is_probed_again_after_a_reboot(host: dict) -> None:
    first = examine(host, {("kvm", "host-passthrough"): BOOTS})
    again = examine(host, {("kvm", "host-passthrough"): BOOTS})
    assert again == first and host["hypervisor"].created == []  # cached: no guest booted
    host["boot_id"] = "boot-2"  # the host rebooted: KVM may have changed (a module, a BIOS switch)
    after = examine(host, {("kvm", "host-passthrough"): HANGS, ("kvm", "default"): HANGS, ("tcg", "default"): BOOTS})
    assert after.boot_id == "boot-2" and after.chosen is not None and after.chosen.accel == "tcg"
    assert len(host["hypervisor"].created) == 3
    rechecked = examine(host, {("kvm", "host-passthrough"): BOOTS}, recheck=True)  # doctor --recheck
    assert rechecked.chosen is not None and rechecked.chosen.accel == "kvm"
    assert json.loads((config.cache_dir() / "doctor" / accel.VERDICT_FILE).read_text())["chosen"] == "kvm"


@pytest.mark.parametrize("text", ["", "{not json", '{"boot_id": "boot-1"}', '{"boot_id": "boot-1", "probes": [{"x": 1}]}'])
def test_a_corrupt_cache_file_is_probed_anew_and_rewritten(host: dict, text: str) -> None:
    path = config.cache_dir() / "doctor" / accel.VERDICT_FILE
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert accel.cached() is None
    verdict = examine(host, {("kvm", "host-passthrough"): BOOTS})
    assert len(host["hypervisor"].created) == 1 and verdict.chosen is not None
    assert accel.cached() == verdict  # the file is whole again


def test_forcing_tcg_probes_nothing(host: dict) -> None:
    host["hypervisor"] = FakeHypervisor({})
    assert accel.choose(SILENT, "tcg") == ("tcg", "default")
    assert host["hypervisor"].created == []
    assert accel.cached() is None
