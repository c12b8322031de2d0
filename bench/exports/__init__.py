"""`bench export`: a run's results in other tools' formats, one module per format.

Each module has `DEFAULT_NAME` (where the export goes in the run directory when no output is
given) and `render(run) -> {file name: text}`; single-file formats give one entry. A module is
imported when its format is asked for, so the CLI lists the formats without loading them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import BenchError
from bench.host.files import write_text
from bench.host.proc import os_error

if TYPE_CHECKING:
    from bench.rundir.runs import LoadedRun

FORMATS = {  # the format's name → its module
    "pytest-benchmark": "pytest_benchmark",
    "github-action-benchmark": "github_action_benchmark",
    "csv": "trials_csv",
    "json": "json_records",
}


def export(run: LoadedRun, format_name: str, output: Path | None) -> list[Path | str]:
    """Write the export; returns where it went (paths, or "stdout")."""
    module = importlib.import_module(f"{__name__}.{FORMATS[format_name]}")
    files = module.render(run)
    if output is not None and str(output) == "-":
        if len(files) != 1:
            raise BenchError(f"export --format {format_name} writes {len(files)} files: give a directory, not -")
        sys.stdout.write(next(iter(files.values())))
        return []
    target = output if output is not None else run.path / module.DEFAULT_NAME
    if len(files) == 1:
        write_text(target, next(iter(files.values())))
        return [target]
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise os_error(f"creating {target}", e) from None
    written: list[Path | str] = []
    for name, text in files.items():
        write_text(target / name, text)
        written.append(target / name)
    return written
