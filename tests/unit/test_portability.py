"""The Portability matrix and finding, on synthetic runs whose outcome is known: which artifact
each platform ran, whether it moved unchanged or converted, and the verdict that follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.model.trial import TrialRecord
from bench.report import boot_phases, findings, portability
from bench.rundir.results import RunDir
from bench.rundir.runs import load
from tests.unit.synthetic_runs import baseline_values, write_run

DIGEST = "5f" * 32
TARGETS = ("native", "docker", "docker:crun", "gvisor", "vm", "vm:q35", "vm-micro", "vm:vmdk", "vm:vdi")
CONVERTED = {"vm:vmdk": "vmdk (VMware): the qcow2 base converted by qemu-img convert in 1.4 s",
             "vm:vdi": "vdi (VirtualBox): the qcow2 base converted by qemu-img convert in 0.9 s"}


def portable_run(tmp_path: Path, name: str, digests: dict[str, str], failed: tuple[str, ...] = ()) -> Path:
    facts = {("hello", p): {"disk_format": d} for p, d in CONVERTED.items()}
    path = write_run(tmp_path, name, baseline_values(), digests=digests,
                     facts={k: v for k, v in facts.items() if k[1] in digests})
    run = RunDir.open(path)
    for k, platform in enumerate(failed):
        run.append(TrialRecord(name, 900 + k, platform, "hello", 1, accel="tcg", status="failed",
                               reason="timeout: no '@@BENCH READY' line within 120 s"))
    return path


def test_each_platform_runs_its_artifact_unchanged_or_converted(tmp_path: Path) -> None:
    path = portable_run(tmp_path, "moves", dict.fromkeys(TARGETS, DIGEST), failed=("vm:q35-uefi",))
    moves = {m.platform: m for m in portability.moves(load(path))}
    assert [portability.artifact_of(p) for p in ("native", "podman", "docker:crun", "vm-docker", "docker-app", "vm-micro")] == [
        portability.ROOTFS, portability.ROOTFS, portability.CONTAINER_IMAGE, portability.CONTAINER_IMAGE,
        portability.APP_IMAGES, portability.VM_DISK]
    assert moves["docker:crun"].outcome == portability.RAN and moves["docker:crun"].how == "unchanged"
    assert moves["vm:vmdk"].outcome == portability.CONVERTED and moves["vm:vmdk"].how.startswith("converted to vmdk (VMware)")
    assert moves["vm:q35-uefi"].outcome == portability.FAILED and moves["vm:q35-uefi"].detail.startswith("timeout")
    assert moves["native"].artifact.startswith("root filesystem tarball abababab")
    summary = portability.summarise(list(moves.values()))
    assert summary.unchanged == {portability.CONTAINER_IMAGE: 3, portability.VM_DISK: 3, portability.ROOTFS: 1}
    assert summary.converted == ["vdi", "vmdk"] and summary.same_user_space


def test_the_finding_is_measured_once_artifacts_moved(tmp_path: Path) -> None:
    """Confirmed when every target ran the same user space; partly when one failed; contradicted
    when the digests differ; unmeasured when nothing was converted (the default suite)."""
    cases = {"confirmed": (dict.fromkeys(TARGETS, DIGEST), ()),
             "partly": (dict.fromkeys(TARGETS, DIGEST), ("vm:vhdx",)),
             "contradicted": ({**dict.fromkeys(TARGETS, DIGEST), "vm:vdi": "ab" * 32}, ()),
             "unmeasured": (dict.fromkeys(("native", "docker", "vm"), DIGEST), ())}
    verdicts = {}
    for name, (digests, failed) in cases.items():
        found = {f.topic: f for f in findings.findings(load(portable_run(tmp_path, name, digests, failed)))}
        verdicts[name] = found["Portability"]
    assert {name: f.verdict for name, f in verdicts.items()} == {
        "confirmed": findings.CONFIRMED, "partly": findings.PARTLY, "contradicted": findings.CONTRADICTED,
        "unmeasured": findings.UNMEASURED}
    assert verdicts["confirmed"].line == ("Image unchanged on 3 targets, disk on 3, converted to 2 formats; "
                                          "same user space everywhere")
    assert "failed: vm:vhdx: timeout" in verdicts["partly"].measured
    assert all(len(f.headline.split()) <= 25 for f in verdicts.values())


def test_a_vm_boot_folds_into_vmm_firmware_kernel_and_init() -> None:
    segments = {"domain_created": 0.4, "resumed": 0.01, "firmware": 0.6, "kernel": 2.0, "init": 0.5}
    assert boot_phases.parts(segments) == pytest.approx({"vmm": 0.41, "firmware": 0.6, "kernel": 2.0, "init": 0.5})
    docker = {"domain_created": 0.4, "resumed": 0.01, "firmware": 0.6, "kernel": 2.0, "engine_ready": 9.0, "ready": 1.0}
    assert boot_phases.parts(docker)["init"] == 10.0
    assert boot_phases.parts({"created": 0.01, "ready": 0.3}) == {}  # a container: no firmware


def test_the_report_shows_the_portability_table(tmp_path: Path) -> None:
    from bench.cli.main import main

    path = portable_run(tmp_path, "table", dict.fromkeys(TARGETS, DIGEST), failed=("vm:vhdx",))
    assert main(["report", str(path)]) == 0
    html = (path / "index.html").read_text()
    table = html[html.index('<section id="portability">'):html.index("</section>", html.index('<section id="portability">'))]
    assert table.count("<tr") == 1 + len(TARGETS) + 1  # the header, each target, the failed one
    assert "<b>converted, ran</b>" in table and '<tr class="failed"><td>VM disk (qcow2)' in table
    assert "converted to vmdk (VMware): the qcow2 base converted by qemu-img convert in 1.4 s" in table
