"""Both VM boot profiles from the same kernel, initramfs and disk, for real: the minimal
harness init and the image's own systemd. Booting an operating system costs more."""

from __future__ import annotations

from pathlib import Path

from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench

SUITE = """\
name = "it-profiles"
platforms = ["vm", "vm-os"]
workloads = ["boot"]
repetitions = 1
warmup = 0
seed = 19
"""


def test_vm_os_boots_systemd_to_its_target_and_takes_longer(tmp_path: Path, images: dict) -> None:
    proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = {r.platform: r for r in RunDir.open(only_run_dir(tmp_path / "runs")).records()}
    for record in records.values():
        assert record.ok, record.summary()
    assert records["vm"].facts["boot_profile"].startswith("minimal")
    assert records["vm-os"].facts["boot_profile"].startswith("full OS")
    boot = {p: next(s.value for s in r.samples if s.metric == "boot_s") for p, r in records.items()}
    assert boot["vm-os"] > boot["vm"], boot
    # The report and the summary name them apart, each with its accelerator.
    accel = records["vm"].accel
    assert f"vm-minimal/{accel}" in proc.stdout and f"vm-os/{accel}" in proc.stdout
