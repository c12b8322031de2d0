from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.definitions.workload import Score, Workload
from bench.errors import BenchError
from bench.host import files
from bench.images import rootfs, store


def make_workload(name: str = "w", packages=("sysbench",), command=("sysbench", "run"),
                  timeout_s: float = 10.0, description: str = "d") -> Workload:
    return Workload(name, description, tuple(packages), tuple(command),
                    Score("x", "higher", regex="(x)"), timeout_s, Path("/dev/null"))


def test_digest_ignores_key_order() -> None:
    assert store.digest({"a": 1, "b": [1, 2]}) == store.digest({"b": [1, 2], "a": 1})
    assert store.digest({"a": 1}) != store.digest({"a": 2})


def key(workloads: list[Workload]) -> str:
    return store.digest(rootfs.inputs(workloads, "amd64"))


def test_rootfs_key_follows_what_is_baked_in() -> None:
    base = key([make_workload()])
    assert key([make_workload(timeout_s=99, description="other words")]) == base
    assert key([make_workload(packages=("sysbench", "fio"))]) != base
    assert key([make_workload(command=("sysbench", "run", "--time=5"))]) != base
    assert key([make_workload(), make_workload("v")]) != base


def test_rootfs_key_ignores_workload_order() -> None:
    a, b = make_workload("a"), make_workload("b", packages=("fio",))
    assert key([a, b]) == key([b, a])
    assert rootfs.packages([a, b]) == ["fio", "sysbench", "systemd-sysv"]  # the image's own init, for vm-os


def test_building_renames_only_on_success(tmp_path: Path) -> None:
    final = tmp_path / "kind" / "key"
    with store.building(final) as tmp:
        (tmp / "artifact").write_text("done")
    assert (final / "artifact").read_text() == "done"
    assert list(final.parent.iterdir()) == [final]


def test_interrupted_build_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "kind" / "key"
    with pytest.raises(KeyboardInterrupt):
        with store.building(final) as tmp:
            (tmp / "half").write_text("half")
            raise KeyboardInterrupt
    assert list(final.parent.iterdir()) == []


def test_failed_build_reports_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "kind" / "key"
    with pytest.raises(BenchError, match="^building key: disk full"):
        with store.building(final):
            raise OSError(28, "No space left on device")
    assert list(final.parent.iterdir()) == []


def test_write_json_is_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    files.write_json(path, {"b": 1, "a": [1]})
    assert json.loads(path.read_text()) == {"a": [1], "b": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_temp_paths_carry_prefix_and_owner(tmp_path: Path) -> None:
    tmp = files.temp_path(tmp_path / "abc")
    assert tmp.name.startswith(".vmctb-tmp-abc.")
    assert files.temp_owner(tmp) is not None
    assert files.temp_owner(tmp_path / "abc") is None


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert store.sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
