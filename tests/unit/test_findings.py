"""The report's findings: each classic claim, the figures, and a verdict derived from them."""

from __future__ import annotations

from pathlib import Path

from bench.report import findings
from bench.rundir import runs
from tests.unit.synthetic_runs import baseline_values, scaled, write_run


def verdicts(path: Path) -> dict[str, findings.Finding]:
    return {f.topic: f for f in findings.findings(runs.load(path))}


def with_app_image(values: dict) -> dict:
    return {**values, ("idle", "docker-app", "image_mib"): [20.0] * 5}


def test_under_tcg_the_vm_half_of_each_claim_is_not_measurable(tmp_path: Path) -> None:
    found = verdicts(write_run(tmp_path, "tcg", with_app_image(baseline_values())))
    assert found["Boot time"].verdict == findings.PARTLY and "300 ms" in found["Boot time"].why
    assert "TCG" in found["Boot time"].why
    assert found["Memory"].verdict == findings.UNMEASURED and "translation cache" in found["Memory"].why
    assert found["CPU"].verdict == findings.PARTLY
    assert found["CPU"].why.startswith("plain-runtime containers lost nothing (docker 0.997×")
    assert "the VM part is not measurable here" in found["CPU"].why
    # Disk does not depend on the accelerator: measured as stated.
    assert found["Disk"].verdict == findings.PARTLY
    assert "20.0 MiB (container, application only)" in found["Disk"].measured
    assert "10.5× smaller" in found["Disk"].measured  # 210 MiB VM image / 20 MiB
    assert found["Isolation"].verdict == findings.UNMEASURED  # no exposure probe in this run


def test_under_kvm_the_figures_decide(tmp_path: Path) -> None:
    found = verdicts(write_run(tmp_path, "kvm", baseline_values(), vm_accel="kvm"))
    assert found["Boot time"].verdict == findings.CONFIRMED  # 0.3 s vs 5.5 s, interval above 1
    assert "18.3×" in found["Boot time"].measured
    assert found["Memory"].verdict == findings.CONFIRMED
    # The VM scored 0.11× native: the container part holds, the VM lost more than a little.
    assert found["CPU"].verdict == findings.PARTLY and "vm-minimal/kvm lost more than a little: 89.0 %" in found["CPU"].why
    assert found["Disk"].verdict == findings.UNMEASURED and "docker-app" in found["Disk"].why


def test_a_container_slower_than_native_contradicts_the_cpu_claim(tmp_path: Path) -> None:
    slow = scaled(baseline_values(), ("cpu", "docker", "score"), 0.8)
    assert verdicts(write_run(tmp_path, "slow", slow, vm_accel="kvm"))["CPU"].verdict == findings.CONTRADICTED


def test_the_same_run_gives_the_same_words(tmp_path: Path) -> None:
    path = write_run(tmp_path, "same", with_app_image(baseline_values()))
    assert findings.findings(runs.load(path)) == findings.findings(runs.load(path))
    assert findings.text(runs.load(path)).splitlines()[0].startswith("Boot time: partly — ")


def test_portability_cites_the_hello_digest_only_where_hello_ran(tmp_path: Path) -> None:
    same = "5f" * 32
    agreed = verdicts(write_run(tmp_path, "same", baseline_values(), digests={"native": same, "docker": same, "vm": same}))
    assert agreed["Portability"].measured.startswith(
        "Every platform printed the same hello digest (5f5f5f5f5f5f…): the same user space ran on each, packaged as: ")
    split = verdicts(write_run(tmp_path, "split", baseline_values(), digests={"native": same, "vm": "ab" * 32}))
    assert split["Portability"].measured.startswith(
        "The platforms printed different hello digests (native 5f5f5f5f5f5f…; vm-minimal/tcg abababababab…): "
        "they did not all run the same user space.")
    unrun = verdicts(write_run(tmp_path, "unrun", baseline_values()))["Portability"].measured
    assert unrun.startswith("The images of one root filesystem, packaged as: ") and "same user space" not in unrun
    assert {f["Portability"].verdict for f in (agreed, split)} == {findings.UNMEASURED}  # one host cannot show it


def test_each_finding_is_one_short_line_with_its_deciding_figures(tmp_path: Path) -> None:
    """What the report's first screen shows of a finding: at most about 25 words; under TCG and
    under KVM, with and without the application image and the exposure probe."""
    exposure = {("exposure", p, m): [v] for p, calls in (("native", 329), ("docker", 284), ("vm", 0))
                for m, v in (("syscalls_host_reachable", calls), ("syscalls_reachable", max(calls, 300)),
                             ("syscalls_probed", 340), ("capabilities_held", 14), ("preconditions_present", 0))}
    cases = {"tcg": (baseline_values(), "tcg"), "kvm": (with_app_image(baseline_values()), "kvm"),
             "probe": ({**baseline_values(), **exposure}, "kvm")}
    for name, (values, accel) in cases.items():
        found = verdicts(write_run(tmp_path, name, values, vm_accel=accel, digests={"native": "ab" * 32,
                                                                                       "docker": "ab" * 32}))
        assert all(0 < len(f.headline.split()) <= 25 for f in found.values()), {t: f.headline for t, f in found.items()}
    assert found["Isolation"].headline == "System calls reaching the host kernel: VMs 0, containers 284"
    assert found["Portability"].headline == "One host cannot show it; the same hello digest on 2 platforms"
    boot = verdicts(tmp_path / "kvm")["Boot time"].headline
    assert boot == "docker ready in 300 ms, vm-minimal/kvm 5.50 s: 18.3× [18×, 18.7×]", boot
