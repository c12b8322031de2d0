"""Memory bandwidth and disk I/O on every platform, for real: the container on its
copy-on-write layer and on a volume of its own, which is removed afterwards."""

from __future__ import annotations

from pathlib import Path

import docker

from bench import config
from bench.host import engines
from bench.operations import cleanup
from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench

SUITE = """\
name = "it-breadth"
platforms = ["native", "docker", "docker-volume", "vm"]
workloads = ["memory", "disk"]
repetitions = 1
warmup = 0
seed = 13
seconds = 1  # each platform is shown running both, not how fast: 1 s per measured part, not 5

[only]
docker-volume = ["disk"]
"""
DISK = {"randread_iops", "randwrite_iops", "seqwrite_mib_s", "randread_p50_us", "randread_p99_us",
        "randwrite_p50_us", "randwrite_p99_us"}


def test_memory_and_disk_on_every_platform(tmp_path: Path, images: dict) -> None:
    proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = RunDir.open(only_run_dir(tmp_path / "runs")).records()
    assert sorted((r.platform, r.workload) for r in records) == [
        ("docker", "disk"), ("docker", "memory"), ("docker-volume", "disk"), ("native", "disk"),
        ("native", "memory"), ("vm", "disk"), ("vm", "memory")]
    for record in records:
        found = {s.metric: s.value for s in record.samples}
        wanted = DISK if record.workload == "disk" else {"read_mib_s", "write_mib_s"}
        assert wanted <= set(found), (record.platform, record.workload, found)
        assert all(found[m] > 0 for m in wanted)
        if record.workload == "disk":
            assert found["randread_p99_us"] >= found["randread_p50_us"]
    storage = {r.platform: r.facts["storage"] for r in records if r.workload == "disk"}
    assert storage["docker"].startswith("overlay2 copy-on-write layer") or "copy-on-write" in storage["docker"]
    assert storage["docker-volume"].startswith("local volume at /var/tmp")
    assert "virtio-blk" in storage["vm"] and "cache=none" in storage["vm"]
    assert storage["native"].startswith("the rootfs directory")
    # The rootfs the native platform wrote into holds no leftover test file.
    assert not (Path(images["rootfs_dir"]) / "var/tmp/bench-fio.dat").exists()


def test_a_leftover_volume_is_found_and_cleaned(images: dict) -> None:
    client = engines.docker_client()
    volume = client.volumes.create(f"{config.NAME_PREFIX}crashed-1-docker-volume",
                                   labels={config.RUN_LABEL: "crashed", config.LABEL: "instance"})
    try:
        assert f"volume {volume.name}" in cleanup.leftovers()
        assert f"removed volume {volume.name}" in bench("clean").stdout
        assert cleanup.leftovers() == []
    finally:
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
