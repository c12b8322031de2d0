from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.host import engines
from tests.realhost import bench


def test_every_artifact_exists_and_matches_its_hash(images: dict) -> None:
    verify = bench("images", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # 5 built from the rootfs, and one application-only image per workload.
    assert f"all {5 + len(images['app_images'])} artifacts match" in verify.stdout
    assert set(images["app_images"]) == set(images["workloads"])
    for name in ("rootfs_tar", "vm_disk", "kernel", "initramfs"):
        assert Path(images[name]["path"]).is_file()
    assert {"hello", "cpu"} <= set(images["workloads"])
    assert images["packages"]["sysbench"]


def test_one_rootfs_feeds_all_three_platforms(images: dict) -> None:
    image = engines.docker_client().images.get(images["container_image"]["sha256"])
    assert image.labels["vmct-bench.rootfs-sha256"] == images["rootfs_tar"]["sha256"]
    rootfs_dir = Path(images["rootfs_dir"])
    assert rootfs_dir.parent == Path(images["rootfs_tar"]["path"]).parent == Path(images["vm_disk"]["path"]).parent
    assert (rootfs_dir / "usr/local/lib/bench/launcher").is_file()


def test_second_build_with_unchanged_inputs_is_a_no_op(images: dict) -> None:
    files = [Path(images[name]["path"]) for name in ("rootfs_tar", "vm_disk", "kernel", "initramfs")]
    before = [os.stat(f).st_mtime_ns for f in files]
    again = bench("images", "build")
    assert again.returncode == 0, again.stderr
    assert "mmdebstrap" not in again.stderr and "docker import" not in again.stderr
    assert [os.stat(f).st_mtime_ns for f in files] == before
    assert bench("images", "show", "--json").stdout.count(images["key"]) == 1


def test_unknown_debian_package_names_it_and_leaves_nothing(tmp_path: Path) -> None:
    workloads = tmp_path / "workloads" / "typo"
    workloads.mkdir(parents=True)
    (workloads / "workload.toml").write_text(
        'name = "typo"\ndescription = "d"\npackages = ["sysbenchh"]\ncommand = ["true"]\n'
        'timeout_s = 5\nexpected_s = 1\n[score]\nregex = "(x)"\nunit = "x"\nbetter = "equal"\n')
    cache = tmp_path / "cache"
    proc = bench("--cache-dir", str(cache), "--workloads-dir", str(tmp_path / "workloads"),
                 "images", "build")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last == "bench: error: rootfs: Debian package 'sysbenchh' does not exist in bookworm " \
                   "(asked for by workload typo)"
    assert "Traceback" not in proc.stderr
    assert list((cache / "rootfs").iterdir()) == []
    assert not (cache / "manifests").exists()


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", mount], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", mount], check=True)


def test_full_disk_during_build_is_one_line_and_leaves_nothing(small_disk: Path) -> None:
    proc = bench("--cache-dir", str(small_disk), "images", "build", "--workloads", "hello")
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("bench: error:")]
    assert len(errors) == 1 and "disk full (no space left on device)" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    leftover = [p for p in small_disk.rglob("*") if p.name.startswith(".vmctb-tmp")]
    assert leftover == []
    assert not any((small_disk / "rootfs").iterdir())
    assert not (small_disk / "manifests").exists()


def test_the_vm_disk_is_the_same_bytes_from_the_same_rootfs(images: dict, tmp_path: Path) -> None:
    """The root filesystem tarball unpacked twice, at different times into different directories
    (as on two hosts), gives two qcow2 disks of the same bytes: the very disk the cache holds."""
    from bench.images import manifest, rootfs, store, vmdisk

    built = manifest.load()
    digests = []
    for name in ("first", "second"):
        tree, work = tmp_path / name / "rootfs", tmp_path / name / "work"
        work.mkdir(parents=True)
        rootfs.extract(Path(built.rootfs_tar.path), tree)
        vmdisk.build_base(tree, tmp_path / name / "disk.qcow2", work, identity=built.rootfs_tar.sha256)
        digests.append(store.sha256_file(tmp_path / name / "disk.qcow2"))
    assert digests[0] == digests[1] == built.vm_disk.sha256
