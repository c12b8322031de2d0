"""An image's layers applied, lowest first, onto one directory: the root filesystem that native,
LXC and the VM run from.

As a container engine applies them: a `.wh.NAME` entry removes NAME of the layers below, a
`.wh..wh..opq` entry empties its directory of them; entries keep their modes (setuid, setgid and
sticky bits too), numeric owners and extended attributes (file capabilities are one), hard links
stay links. What a hostile layer could use to write outside the directory is refused, naming the
entry: an absolute path or `..`, a path through a symlink, a hard link to outside, a symlink whose
relative target climbs above the root, and device nodes (which no instance needs from an image).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from bench.errors import BenchError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
XATTR = "SCHILY.xattr."


class LayerError(BenchError):
    """A layer entry the flattening refuses."""


def _relative(name: str, what: str) -> PurePosixPath | None:
    """The entry's path inside the root, or None for the root itself."""
    if name.startswith("/"):
        raise LayerError(f"{what}: entry {name!r} has an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    if ".." in parts:
        raise LayerError(f"{what}: entry {name!r} climbs out of the root with '..'")
    return PurePosixPath(*parts) if parts else None


def _climbs_out(link: PurePosixPath, target: str) -> bool:
    """Whether a relative symlink's target, followed from where the link is, leaves the root."""
    if target.startswith("/"):
        return False  # read from the image's own root wherever it runs
    depth = len(link.parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return True
    return False


class Flattener:
    def __init__(self, root: Path):
        self.root = root
        self.this_layer: set[PurePosixPath] = set()  # made by the layer being applied

    def host(self, path: PurePosixPath, what: str, name: str) -> Path:
        """`path` under the root, after checking that no directory on the way is a symlink."""
        current = self.root
        for part in path.parts[:-1]:
            current = current / part
            if current.is_symlink():
                raise LayerError(f"{what}: entry {name!r} passes through the symlink /{current.relative_to(self.root)}")
            if not current.exists():
                current.mkdir(mode=0o755)
        return current / path.parts[-1]

    def apply(self, layer: Iterable[tarfile.TarInfo], tar: tarfile.TarFile, what: str) -> None:
        self.this_layer = set()
        for info in layer:
            path = _relative(info.name, what)
            if path is None:
                continue
            base = path.name
            if base == OPAQUE:
                self._empty(path.parent, what, info.name)
            elif base.startswith(WHITEOUT):
                self._remove(path.parent / base[len(WHITEOUT):], what, info.name)
            else:
                self._write(path, info, tar, what)

    def _empty(self, directory: PurePosixPath, what: str, name: str) -> None:
        host = self.host(directory / OPAQUE, what, name).parent if directory.parts else self.root
        if not host.is_dir() or host.is_symlink():
            return
        for child in host.iterdir():
            inside = directory / child.name
            if inside not in self.this_layer:
                _delete(child)

    def _remove(self, path: PurePosixPath, what: str, name: str) -> None:
        if path in self.this_layer:
            return
        host = self.host(path, what, name)
        if host.is_symlink() or host.exists():
            _delete(host)

    def _write(self, path: PurePosixPath, info: tarfile.TarInfo, tar: tarfile.TarFile, what: str) -> None:
        host = self.host(path, what, info.name)
        if info.ischr() or info.isblk():
            raise LayerError(f"{what}: entry {info.name!r} is a device node")
        existing = host.is_symlink() or host.exists()
        if existing and not (info.isdir() and host.is_dir() and not host.is_symlink()):
            _delete(host)
        if info.isdir():
            host.mkdir(mode=0o700, exist_ok=True)
        elif info.issym():
            if _climbs_out(path, info.linkname):
                raise LayerError(f"{what}: symlink {info.name!r} → {info.linkname!r} points out of the root")
            os.symlink(info.linkname, host)
        elif info.islnk():
            target = _relative(info.linkname, what)
            source = self.host(target, what, info.linkname) if target is not None else None
            if source is None or not (source.exists() or source.is_symlink()):
                raise LayerError(f"{what}: hard link {info.name!r} → {info.linkname!r} names nothing in the image")
            os.link(source, host, follow_symlinks=False)
            self.this_layer.add(path)
            return  # a hard link shares its target's inode: mode, owner and attributes with it
        elif info.isfifo():
            os.mkfifo(host)
        elif info.isfile():
            blob = tar.extractfile(info)
            assert blob is not None
            with open(host, "xb") as out:
                shutil.copyfileobj(blob, out, 1 << 20)
        else:
            raise LayerError(f"{what}: entry {info.name!r} is of a type images do not hold ({info.type!r})")
        os.chown(host, info.uid, info.gid, follow_symlinks=False)
        if not info.issym():
            os.chmod(host, stat.S_IMODE(info.mode))  # after chown, which clears setuid and setgid
            for key, value in info.pax_headers.items():
                if key.startswith(XATTR):
                    os.setxattr(host, key[len(XATTR):], value.encode("utf-8", "surrogateescape"),
                                follow_symlinks=False)
            if not info.isdir():
                os.utime(host, (info.mtime, info.mtime), follow_symlinks=False)
        self.this_layer.add(path)


def _delete(host: Path) -> None:
    if host.is_dir() and not host.is_symlink():
        shutil.rmtree(host)
    else:
        host.unlink()


def flatten(layers: Iterable[tarfile.TarFile], root: Path, what: str) -> int:
    """Apply each layer onto `root` (an empty directory); the number of layers applied. A full
    disk or another I/O failure is a one-line error; the caller removes the partial directory."""
    flattener = Flattener(root)
    count = 0
    try:
        for count, layer in enumerate(layers, 1):
            flattener.apply(layer, layer, f"{what}, layer {count}")
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise BenchError(f"{what}: the disk is full ({root.parent})") from None
        raise BenchError(f"{what}: flattening failed: {e.strerror or e} ({e.filename or root})") from None
    except tarfile.TarError as e:
        raise BenchError(f"{what}: a layer is not a readable tar ({e})") from None
    return count
