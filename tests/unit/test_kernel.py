from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.images import kernel
from bench.progress import SILENT


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_user_supplied_kernel_is_copied_into_the_cache(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "bzImage").write_bytes(b"kernel")
    (tmp_path / "initrd").write_bytes(b"initrd")
    boot = kernel.ensure(SILENT, tmp_path / "bzImage", tmp_path / "initrd")
    assert boot.kernel.read_bytes() == b"kernel" and boot.initramfs.read_bytes() == b"initrd"
    assert boot.kernel.is_relative_to(cache)
    assert boot.source == f"user-supplied {tmp_path / 'bzImage'}"
    assert kernel.ensure(SILENT, tmp_path / "bzImage", tmp_path / "initrd") == boot


def test_kernel_and_initramfs_go_together(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(BenchError, match="--kernel and --initramfs go together"):
        kernel.ensure(SILENT, tmp_path / "bzImage", None)


def test_missing_user_kernel(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(BenchError, match="bzImage: no such file"):
        kernel.ensure(SILENT, tmp_path / "bzImage", tmp_path / "initrd")


def test_another_architecture_is_refused_in_one_line() -> None:
    from bench.images.kernel import require_arch

    require_arch("amd64")
    with pytest.raises(BenchError) as caught:
        require_arch("arm64")
    assert str(caught.value).startswith("this host is arm64: the harness builds amd64 images only")
    assert "\n" not in str(caught.value)
