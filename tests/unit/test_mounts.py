"""Mounts a killed daemon leaves in a build directory: found deepest first, and detached."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.host.proc import mounts_under, unmount_under


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_mounts_below_a_tree_are_found_deepest_first_and_detached(tmp_path: Path) -> None:
    tree = tmp_path / "build dir"  # a space, as mountinfo escapes it
    outer, inner = tree / "var/lib/docker", tree / "var/lib/docker/overlay2/x"
    outer.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "vmctb-test", str(outer)], check=True)
    inner.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(outer), str(inner)], check=True)
    try:
        assert mounts_under(tree) == [inner, outer]
        assert mounts_under(tmp_path / "elsewhere") == []
        unmount_under(tree)
        assert mounts_under(tree) == []
        assert not inner.exists()  # the tmpfs that held it is gone: the tree is plain directories again
    finally:
        for point in (inner, outer):
            subprocess.run(["umount", "--lazy", str(point)], capture_output=True)
