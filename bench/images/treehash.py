"""The user-space tree hash, computed on the host from a flattened image: what each platform's
instance must report through the static tree probe (bench/guest/treehash.c, which documents the
record and what is left out; a unit test holds the two to each other).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

EXCLUDED = frozenset(["/proc", "/sys", "/dev", "/run", "/tmp", "/.vmct-bench", "/lost+found", "/.dockerenv",
                      "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/mtab"])
_TYPES = ((stat.S_ISDIR, "d"), (stat.S_ISREG, "f"), (stat.S_ISLNK, "l"), (stat.S_ISFIFO, "p"),
          (stat.S_ISSOCK, "s"), (stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"))


@dataclass(frozen=True)
class TreeHash:
    sha256: str
    entries: int


def _file_sha256(path: bytes) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _record(inside: bytes, kind: str, st: os.stat_result, detail: bytes) -> bytes:
    fields = [inside, kind.encode(), b"%o" % stat.S_IMODE(st.st_mode), b"%d" % st.st_uid, b"%d" % st.st_gid, detail]
    return b"\0".join(fields) + b"\n"


def _walk(host: bytes, inside: bytes, records: list[bytes]) -> bool:
    """Append the records beneath one directory; whether there were any."""
    any_recorded = False
    for name in sorted(os.listdir(host)):
        path = (inside if inside != b"/" else b"") + b"/" + name
        if path.decode(errors="surrogateescape") in EXCLUDED:
            continue
        full = os.path.join(host, name)
        st = os.lstat(full)
        kind = next(letter for test, letter in _TYPES if test(st.st_mode))
        if kind == "d":
            mark = len(records)
            records.append(_record(path, kind, st, b""))
            if not _walk(full, path, records):
                del records[mark:]
                continue
        else:
            detail = (_file_sha256(full).encode() if kind == "f" else os.readlink(full) if kind == "l" else b"")
            records.append(_record(path, kind, st, detail))
        any_recorded = True
    return any_recorded


def tree_hash(root: Path) -> TreeHash:
    records: list[bytes] = []
    _walk(os.fsencode(root), b"/", records)
    h = hashlib.sha256()
    for record in records:
        h.update(record)
    return TreeHash(h.hexdigest(), len(records))
