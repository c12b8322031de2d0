"""Flattening an image's layers as an engine applies them, and refusing what could write outside."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.images import oci
from bench.images.flatten import LayerError, flatten
from tests.unit.imagefixtures import Entry, config_json, docker_archive, layer

DIR, SYM, LNK, FIFO, CHR = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE
ROOT = os.geteuid() == 0  # owners other than one's own need root (make test runs the suite as root)


def apply(tmp_path: Path, *layers: bytes) -> Path:
    archive = tmp_path / "image.tar"
    docker_archive(archive, list(layers), config_json())
    read = oci.read(archive)
    root = tmp_path / "root"
    root.mkdir()
    with read.open_layers() as stream:
        assert flatten(stream, root, "image test") == len(layers)
    return root


def test_layers_apply_in_order_with_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    lower = layer(Entry("etc/", DIR, mode=0o755), Entry("etc/keep", data=b"kept"), Entry("etc/gone", data=b"x"),
                  Entry("var/", DIR, mode=0o755), Entry("var/cache/", DIR, mode=0o755),
                  Entry("var/cache/old", data=b"old"), Entry("bin/", DIR, mode=0o755),
                  Entry("bin/tool", data=b"v1", mode=0o755))
    upper = layer(Entry("etc/.wh.gone"), Entry("var/cache/new", data=b"new"), Entry("var/cache/.wh..wh..opq"),
                  Entry("bin/tool", data=b"v2", mode=0o700))
    root = apply(tmp_path, lower, upper)
    assert (root / "etc/keep").read_bytes() == b"kept" and not (root / "etc/gone").exists()
    # The opaque marker hides the lower layers' entries only, wherever it comes in its own layer.
    assert sorted(p.name for p in (root / "var/cache").iterdir()) == ["new"]
    assert (root / "bin/tool").read_bytes() == b"v2" and stat.S_IMODE((root / "bin/tool").stat().st_mode) == 0o700
    assert not any(p.name.startswith(".wh.") for p in root.rglob("*"))


def test_a_file_replaces_a_directory_and_a_directory_keeps_its_contents(tmp_path: Path) -> None:
    lower = layer(Entry("a/", DIR, mode=0o755), Entry("a/inner", data=b"x"), Entry("d/", DIR, mode=0o755),
                  Entry("d/f", data=b"f"))
    upper = layer(Entry("a", data=b"now a file"), Entry("d/", DIR, mode=0o750))
    root = apply(tmp_path, lower, upper)
    assert (root / "a").read_bytes() == b"now a file"
    assert (root / "d/f").read_bytes() == b"f" and stat.S_IMODE((root / "d").stat().st_mode) == 0o750


def test_hard_links_symlinks_fifos_modes_and_xattrs_are_kept(tmp_path: Path) -> None:
    owner = 1234 if ROOT else os.geteuid()
    capability = b"\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    root = apply(tmp_path, layer(
        Entry("usr/", DIR, mode=0o755), Entry("usr/bin/", DIR, mode=0o755),
        Entry("usr/bin/su", data=b"elf", mode=0o4755, uid=owner, gid=owner),
        Entry("usr/bin/ping", data=b"ping", mode=0o755, xattrs={"security.capability": capability} if ROOT else {}),
        Entry("usr/bin/su-again", LNK, link="usr/bin/su"),
        Entry("usr/lib", SYM, link="/lib"), Entry("usr/up", SYM, link="../usr/bin"),
        Entry("tmp/", DIR, mode=0o1777), Entry("tmp/pipe", FIFO, mode=0o600),
        Entry("notes", data=b"n", xattrs={"user.origin": b"layer one"})))
    su = root / "usr/bin/su"
    assert stat.S_IMODE(su.stat().st_mode) == 0o4755 and (su.stat().st_uid, su.stat().st_gid) == (owner, owner)
    assert su.stat().st_ino == (root / "usr/bin/su-again").stat().st_ino
    assert os.readlink(root / "usr/lib") == "/lib" and os.readlink(root / "usr/up") == "../usr/bin"
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777 and stat.S_ISFIFO((root / "tmp/pipe").lstat().st_mode)
    assert os.getxattr(root / "notes", "user.origin") == b"layer one"
    if ROOT:
        assert os.getxattr(root / "usr/bin/ping", "security.capability") == capability


@pytest.mark.parametrize("entries, says", [
    ((Entry("/etc/passwd", data=b"x"),), "has an absolute path"),
    ((Entry("../escape", data=b"x"),), "climbs out of the root with '..'"),
    ((Entry("a/../../escape", data=b"x"),), "climbs out of the root with '..'"),
    ((Entry("dev/", DIR), Entry("dev/sda", CHR)), "is a device node"),
    ((Entry("up", SYM, link="../../etc/shadow"),), "points out of the root"),
    ((Entry("deep/", DIR), Entry("deep/up", SYM, link="../../host"),), "points out of the root"),
    ((Entry("link", LNK, link="nothing/here"),), "names nothing in the image"),
    ((Entry("link", LNK, link="../outside"),), "climbs out of the root"),
    ((Entry("host", SYM, link="/"), Entry("host/etc/cron.d/x", data=b"x")), "passes through the symlink /host"),
])
def test_hostile_entries_are_refused_in_one_line_and_nothing_is_written_outside(
        tmp_path: Path, entries: tuple[Entry, ...], says: str) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(LayerError) as refused:
        apply(tmp_path, layer(*entries))
    message = str(refused.value)
    assert says in message and "\n" not in message and message.startswith("image test, layer 1: "), message
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "image.tar", "root"])
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()


def test_a_gzip_layer_and_a_corrupt_one(tmp_path: Path) -> None:
    root = apply(tmp_path, layer(Entry("f", data=b"zipped"), gzip=True))
    assert (root / "f").read_bytes() == b"zipped"
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    with pytest.raises(BenchError, match=r"layer 1 is not a readable tar"):
        apply(corrupt, b"this is no tar at all" * 40)


@pytest.mark.skipif(not ROOT, reason="mounting a small tmpfs needs root (make test runs the suite as root)")
def test_a_full_disk_is_one_line(tmp_path: Path) -> None:
    import subprocess

    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small], check=True)
    try:
        archive = small.parent / "big.tar"
        docker_archive(archive, [layer(Entry("big", data=b"\0" * (2 << 20)))], config_json())
        root = small / "root"
        root.mkdir()
        with oci.read(archive).open_layers() as stream, pytest.raises(BenchError) as full:
            flatten(stream, root, "image big")
        assert str(full.value) == f"image big: the disk is full ({small})"
    finally:
        subprocess.run(["umount", small], check=True)
