"""cgroup handling for both versions: v1 here, v2 on most lab machines (a fake tree stands in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.host import cgroup
from bench.probes.processes import procs_file_for

V1 = """\
12:memory:/docker/abc123
11:cpu,cpuacct:/docker/abc123
0::/
"""
V2 = "0::/system.slice/docker-abc123.scope\n"


def test_the_members_file_of_a_v1_and_a_v2_cgroup() -> None:
    root = Path("/sys/fs/cgroup")
    assert procs_file_for(V1, root) == root / "memory/docker/abc123/cgroup.procs"
    assert procs_file_for(V2, root) == root / "system.slice/docker-abc123.scope/cgroup.procs"
    assert procs_file_for("3:cpuset:/\n", root) is None


@pytest.fixture
def v2_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    return tmp_path


def test_a_v2_memory_limit(v2_root: Path) -> None:
    (v2_root / "cgroup.subtree_control").write_text("cpu memory pids\n")
    group, note = cgroup.MemoryCgroup.create("vmctb-r-1-native", 512 * 2**20)
    assert group is not None and note == "memory limit 512 MiB (cgroup v2)"
    assert (v2_root / "vmctb-r-1-native/memory.max").read_text() == str(512 * 2**20)
    assert cgroup.leftovers() == [v2_root / "vmctb-r-1-native"]


def test_v2_without_the_memory_controller_runs_unlimited_and_says_so(v2_root: Path) -> None:
    (v2_root / "cgroup.subtree_control").write_text("cpu pids\n")
    group, note = cgroup.MemoryCgroup.create("vmctb-r-1-native", 2**20)
    assert group is None and "memory controller not enabled" in note
    assert cgroup.leftovers() == []


def test_a_cgroup_that_cannot_be_made_is_not_left_half_made(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    memory = tmp_path / "memory"
    memory.mkdir()
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    (memory / "vmctb-r-1-native").mkdir()  # already there: mkdir fails
    group, note = cgroup.MemoryCgroup.create("vmctb-r-1-native", 2**20)
    assert group is None and note.startswith("no memory limit (cgroup ")
    assert (memory / "vmctb-r-1-native").is_dir()  # not ours to remove: `bench clean` decides


def test_a_limit_that_cannot_be_written_removes_the_new_cgroup(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "memory").mkdir()
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    def refuse(self: Path, text: str) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", refuse)
    group, note = cgroup.MemoryCgroup.create("vmctb-r-2-native", 2**20)
    assert group is None and "Permission denied" in note
    assert not (tmp_path / "memory" / "vmctb-r-2-native").exists()
