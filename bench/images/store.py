"""The build cache: entries keyed by a digest of their inputs, built in a temp directory
and renamed into place, so an interrupted build never leaves something that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import config
from bench.errors import BenchError
from bench.host.files import temp_path
from bench.host.proc import os_error

def digest(inputs: object) -> str:
    """A stable key for JSON-able inputs: key order and whitespace do not matter."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def entry(kind: str, key: str) -> Path:
    return config.cache_dir() / kind / key


@contextmanager
def building(final: Path) -> Iterator[Path]:
    """Yield a temp directory beside `final`; on success it becomes `final`, else it is removed."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(final.parent, 0o755)  # QEMU (libvirt-qemu) must traverse the cache
    except OSError as e:
        raise os_error(f"creating {final.parent}", e) from None
    with scratch(final) as tmp:
        try:
            tmp.chmod(0o755)
            yield tmp
            try:
                tmp.rename(final)
            except OSError:
                if not final.is_dir():  # else another build finished the same key first: keep it
                    raise
        except OSError as e:
            raise os_error(f"building {final.name}", e) from None


@contextmanager
def scratch(place: Path) -> Iterator[Path]:
    """A work directory named after `place` and this process (so `bench clean` spares it while
    the process lives, and removes it after a crash), removed when the block ends."""
    tmp = temp_path(place)
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as e:
        raise os_error(f"creating {tmp}", e) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise BenchError(f"{what} needs root (chroot, device nodes, libvirt's system instance)")
