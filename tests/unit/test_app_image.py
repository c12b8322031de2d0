"""The application-only image's content: which programs a workload runs, and a tarball that
keeps the tree's symlinks (merged /usr) and holds nothing else. The real image, built from the
real rootfs with its own ldd, is tested in tests/integration/test_hello.py."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from bench.images import app_image
from tests.unit.test_store import make_workload


def test_the_programs_a_command_runs() -> None:
    assert app_image.programs(make_workload(command=("sysbench", "cpu", "run"))) == ["sysbench"]
    script = "echo '== read =='\nsysbench memory run  # first\n\niperf3 --client x\nsysbench memory run\n"
    assert app_image.programs(make_workload(command=("sh", "-c", script))) == ["echo", "sysbench", "iperf3"]
    served = "\nexec redis-server --bind \"$BENCH_LISTEN\" --save ''\n"
    assert app_image.programs(make_workload(command=("sh", "-c", served))) == ["redis-server"]


def tree(root: Path) -> Path:
    """A merged-/usr tree: /bin and /lib64 are symlinks into /usr, sh is a symlink to dash."""
    for d in ("usr/bin", "usr/lib64", "usr/lib/x86_64-linux-gnu", "etc", "var/lib/dpkg"):
        (root / d).mkdir(parents=True)
    os.symlink("usr/bin", root / "bin")
    os.symlink("usr/lib64", root / "lib64")
    os.symlink("usr/lib", root / "lib")
    for f in ("usr/bin/dash", "usr/bin/sysbench", "usr/bin/apt-get", "usr/lib/x86_64-linux-gnu/libc.so.6",
              "etc/passwd", "var/lib/dpkg/status"):
        (root / f).write_text(f)
    os.symlink("dash", root / "usr/bin/sh")
    os.symlink("/usr/lib/x86_64-linux-gnu/libc.so.6", root / "usr/lib64/ld.so")
    return root


def test_the_tarball_holds_the_paths_their_symlinks_and_nothing_else(tmp_path: Path) -> None:
    root = tree(tmp_path / "tree")
    out = tmp_path / "app.tar"
    app_image.write_tar(root, ["/usr/bin/sysbench", "/lib64/ld.so", "/etc/passwd"], out)
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
    assert members["usr/bin/sh"].issym() and members["usr/bin/dash"].isfile()  # /bin/sh always, via dash
    assert members["lib64"].issym() and members["usr/lib64/ld.so"].issym()
    assert members["usr/lib/x86_64-linux-gnu/libc.so.6"].isfile()  # the symlink's target came along
    assert members["usr/bin/sysbench"].isfile() and members["etc/passwd"].isfile()
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777 and members["var/tmp"].mode == 0o1777
    assert "usr/bin/apt-get" not in members and "var/lib/dpkg/status" not in members
    again = tmp_path / "again.tar"
    app_image.write_tar(root, ["/etc/passwd", "/lib64/ld.so", "/usr/bin/sysbench"], again)
    assert again.read_bytes() == out.read_bytes()  # the same content, the same image tag


def test_app_paths_bring_whole_directories_through_symlinks_and_nothing_beside(tmp_path: Path) -> None:
    root = tree(tmp_path / "tree")
    (root / "usr/share/srv/15/extension").mkdir(parents=True)
    (root / "usr/share/srv/15/base.bki").write_text("data")
    (root / "usr/share/srv/15/extension/plpgsql.control").write_text("control")
    (root / "usr/share/other").mkdir()
    (root / "usr/share/other/unrelated").write_text("x")
    os.symlink("/usr/share/srv", root / "srv-link")
    assert app_image._files_under(root, "/usr/share/srv/15") == [
        "/usr/share/srv/15", "/usr/share/srv/15/base.bki", "/usr/share/srv/15/extension/plpgsql.control"]
    # Through a symlink: the files where they are, which the tarball's walk reaches via the link.
    assert "/usr/share/srv/15/base.bki" in app_image._files_under(root, "/srv-link/15")
    assert app_image._files_under(root, "/usr/share/srv/15/base.bki") == ["/usr/share/srv/15/base.bki"]
    assert app_image._files_under(root, "/usr/share/none") == []
    assert not app_image._is_elf(root, "/usr/share/srv/15/base.bki")
