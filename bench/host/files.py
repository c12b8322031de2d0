"""Safe file writes: through a temp name marked as the harness's, then a rename, so a reader
never sees half a file and `bench clean` can tell a crashed writer's leftovers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench import config
from bench.host.proc import os_error

TMP_PREFIX = f".{config.NAME_PREFIX}tmp-"


def temp_path(final: Path) -> Path:
    """Where `final` is made before its rename: marked as ours, with the builder's pid."""
    return final.with_name(f"{TMP_PREFIX}{final.name}.{os.getpid()}")


def temp_owner(path: Path) -> int | None:
    """The pid that made a temp path, or None when it is not one of ours."""
    pid = path.name.rsplit(".", 1)[-1]
    return int(pid) if path.name.startswith(TMP_PREFIX) and pid.isdigit() else None


def write_json(path: Path, data: object) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write through a temp name and rename: readers never see half a file."""
    tmp = temp_path(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise os_error(f"writing {path}", e) from None
