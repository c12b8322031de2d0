from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.images import manifest, store
from bench.images.manifest import Artifact, Manifest
from tests.unit.test_store import make_workload


def file_artifact(path: Path, data: bytes) -> Artifact:
    path.write_bytes(data)
    return Artifact(str(path), store.sha256_file(path), len(data))


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Manifest:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    rootfs_dir = tmp_path / "rootfs"
    (rootfs_dir / "var/lib/dpkg").mkdir(parents=True)
    (rootfs_dir / "var/lib/dpkg/status").write_text("Package: x\n")
    w = make_workload("cpu")
    return Manifest(
        key="k1", schema=manifest.SCHEMA, harness_version="0", suite="bookworm", variant="minbase",
        arch="amd64", workloads={w.name: w.guest_spec()}, packages={"x": "1"},
        kernel_source="test", kernel_release="6.1", initramfs_modules=["virtio"],
        build_seconds={"bootstrap": 1.0}, dpkg_status_sha256="00", rootfs_dir=str(rootfs_dir),
        rootfs_tar=file_artifact(tmp_path / "rootfs.tar", b"tar"),
        container_image=Artifact("vmct-bench/rootfs:abc", "sha256:feed", 3),
        vm_disk=file_artifact(tmp_path / "disk.qcow2", b"qcow"),
        kernel=file_artifact(tmp_path / "vmlinuz", b"kernel"),
        initramfs=file_artifact(tmp_path / "initramfs.img", b"initrd"),
        app_images={"cpu": Artifact("vmct-bench/app-cpu:abc", "sha256:c0de", 2)},
    )


def test_round_trip_through_latest(built: Manifest) -> None:
    path = built.save()
    assert json.loads(path.read_text())["rootfs_tar"]["sha256"] == built.rootfs_tar.sha256
    assert manifest.load() == built


def test_verify_passes_intact_artifacts(built: Manifest) -> None:
    assert built.verify("sha256:feed", {"cpu": "sha256:c0de"}) == []


def test_verify_names_each_broken_artifact(built: Manifest) -> None:
    Path(built.vm_disk.path).write_bytes(b"tampered")
    Path(built.kernel.path).unlink()
    problems = built.verify(None)
    assert any(p.startswith("vm_disk:") and "does not match" in p for p in problems)
    assert any(p.startswith("kernel:") and "missing" in p for p in problems)
    assert any(p.startswith("container_image:") for p in problems)
    assert any(p.startswith("app_images.cpu:") and "missing" in p for p in problems)
    assert len(problems) == 4


def test_require_refuses_missing_or_changed_workloads(built: Manifest) -> None:
    built.require(make_workload("cpu"))
    with pytest.raises(BenchError, match="'hello' is not in the built images"):
        built.require(make_workload("hello"))
    with pytest.raises(BenchError, match="'cpu' changed since the images were built"):
        built.require(make_workload("cpu", command=("sysbench", "other")))


def test_unreadable_manifest_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"schema": %d}' % manifest.SCHEMA)
    with pytest.raises(BenchError, match="not a valid image manifest"):
        manifest.load(path)
