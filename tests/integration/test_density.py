"""Density for real: 5 idle containers and 5 idle VMs running at once, then all removed."""

from __future__ import annotations

from pathlib import Path

import psutil

from bench.operations import cleanup
from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir, qemu_processes, write_suite
from tests.realhost import bench

SUITE = """\
name = "it-density"
platforms = ["docker", "vm"]
workloads = ["density"]
repetitions = 1
warmup = 0
seed = 17

[density]
instances = 5
"""


def test_five_containers_and_five_vms_at_once(tmp_path: Path, images: dict) -> None:
    proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = {r.platform: r for r in RunDir.open(only_run_dir(tmp_path / "runs")).records()}
    assert set(records) == {"docker", "vm"}
    for platform, record in records.items():
        found = {s.metric: s.value for s in record.samples}
        assert record.facts["instances"] == "5" and len(record.facts["start_s"].split()) == 5
        assert found["density_pss_mib"] > 0 and found["density_start_last_s"] > 0
        print(f"\n{platform}: {found['density_mem_mib']:.1f} MiB available memory and "
              f"{found['density_pss_mib']:.1f} MiB PSS per instance, starts {record.facts['start_s']} s")
    vm = {s.metric: s.value for s in records["vm"].samples}
    docker = {s.metric: s.value for s in records["docker"].samples}
    # An idle VM holds its booted guest's memory and QEMU's; a container its processes and shim.
    assert vm["density_pss_mib"] > 5 * docker["density_pss_mib"]
    assert vm["density_mem_mib"] > 100
    assert cleanup.leftovers() == [] and qemu_processes() == []
    assert not [p for p in psutil.process_iter(["name"]) if p.info["name"] == "containerd-shim"
                and any("vmctb-" in c for c in (p.cmdline() or []))]
