from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from bench.host import engines
from bench.operations import cleanup
from tests.realhost import bench


def test_doctor_probes_kvm_for_real_and_chooses_an_accelerator() -> None:
    proc = bench("doctor", "--json", "--recheck")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    for name in ("native", "docker", "docker bridge", "libvirt"):  # a fresh host's bridge too
        assert checks[name]["ok"], checks[name]
    probes = report["accel_probes"]
    kvm_probes = [p for p in probes["probes"] if p["accel"] == "kvm"]
    if not probes["kvm_present"]:
        assert not kvm_probes and report["vm_accel"] == "tcg"
    elif any(p["usable"] for p in kvm_probes):
        assert report["vm_accel"] == "kvm" and checks["kvm"]["ok"]
    else:
        # /dev/kvm opens, yet no KVM guest reached its token: every attempt says why.
        assert report["vm_accel"] == "tcg"
        assert report["vm_accel_summary"] == "KVM present but unusable; VMs will run under TCG emulation"
        assert not checks["kvm"]["ok"] and checks["kvm"]["fix"]
        assert all(p["detail"] and p["seconds"] <= probes["kvm_deadline_s"] + 15 for p in kvm_probes)
        tcg = [p for p in probes["probes"] if p["accel"] == "tcg"]
        assert tcg and tcg[0]["usable"], tcg
    assert report["host"]["logical_cpus"] > 0 and report["host"]["memory_bytes"] > 0


def test_doctor_reuses_this_boots_verdict_and_prints_a_table() -> None:
    first = json.loads(bench("doctor", "--json").stdout)["accel_probes"]
    table = bench("doctor")
    second = json.loads(bench("doctor", "--json").stdout)["accel_probes"]
    assert second["checked_at"] == first["checked_at"]  # no new probe boot
    assert table.returncode == 0
    assert "VM accelerator: " + (first["chosen"] or "none") in table.stdout
    for name in ("native", "docker", "libvirt", "kvm", "tcg"):
        assert f"\n{name} " in table.stdout


def test_sigterm_during_the_probe_boot_leaves_no_domain() -> None:
    conn = engines.libvirt_connection()
    proc = subprocess.Popen([sys.executable, "-m", "bench", "doctor", "--recheck", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not cleanup.leftover_domains(conn) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert cleanup.leftover_domains(conn), "no probe domain seen while doctor ran"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert cleanup.leftover_domains(conn) == []
