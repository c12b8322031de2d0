"""Host profiles: one TOML file per lab machine in hosts/ (hosts/README.md shows the keys).

A profile names the machine as the history knows it, says which knobs `bench tune` sets there,
the host size the consolidation scenarios assume, and keeps the noise floor its last run measured
(`bench run --host NAME` writes that table back; nothing else in the file is touched). What the
machine can run is never taken from a profile: `bench doctor` measures it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import config
from bench.definitions.tomlcheck import Table, load_toml
from bench.errors import BenchError
from bench.host.files import write_text
from bench.model.units import parse_size

NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
NOISE_TABLE = "noise"


def hosts_dir() -> Path:
    return Path(os.environ.get("BENCH_HOSTS_DIR", config.PROJECT_ROOT / "hosts"))


@dataclass(frozen=True)
class TuneChoice:
    governor: bool = True
    boost: bool = True
    irqs: bool = True
    irqbalance: bool = True


@dataclass(frozen=True)
class HostProfile:
    name: str
    path: Path
    description: str = ""
    tune: TuneChoice = TuneChoice()
    memory_bytes: int | None = None  # the host size the consolidation scenarios assume
    disk_bytes: int | None = None
    noise_floor_cv: float | None = None  # the last run's, written back by `bench run --host`
    noise_measured_at: str = ""

    def to_json(self) -> dict[str, Any]:
        """What run.json keeps of it."""
        return {"name": self.name, "file": str(self.path), "memory_bytes": self.memory_bytes,
                "disk_bytes": self.disk_bytes, "noise_floor_cv": self.noise_floor_cv}


def load(name: str) -> HostProfile:
    """hosts/NAME.toml; a one-line BenchError for a missing or wrong one."""
    if not NAME.fullmatch(name):
        raise BenchError(f"--host {name!r}: not a host profile name (lower-case letters, digits, '.', '_', '-')")
    path = hosts_dir() / f"{name}.toml"
    if not path.exists():
        known = sorted(p.stem for p in hosts_dir().glob("*.toml"))
        raise BenchError(f"--host {name}: no profile {path} (profiles: {', '.join(known) or 'none'})")
    table = Table(load_toml(path), path)
    declared = table.text("name")
    if declared != name:
        raise BenchError(f"{path}: name: {declared!r} is not the file's name {name!r}")
    description = table.text("description", "")
    tune = table.table("tune", optional=True)
    choice = TuneChoice(tune.boolean("governor", True), tune.boolean("boost", True), tune.boolean("irqs", True),
                        tune.boolean("irqbalance", True))
    tune.finish()
    size = table.table("size", optional=True)
    memory, disk = _size(size, "memory"), _size(size, "disk")
    size.finish()
    noise = table.table(NOISE_TABLE, optional=True)
    cv = noise.number("floor_cv", None)
    measured = noise.text("measured_at", "")
    noise.finish()
    table.finish()
    return HostProfile(name, path, description, choice, memory, disk, None if cv is None else float(cv), measured)


def _size(table: Table, key: str) -> int | None:
    text = table.text(key, None)
    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as e:
        raise table.error(key, str(e)) from None


def with_noise_floor(text: str, cv: float, measured_at: str) -> str:
    """The profile's text with its [noise] table (appended if absent) holding this floor; the
    rest of the file, comments included, unchanged."""
    body = f"[{NOISE_TABLE}]\n# written by `bench run --host`: the last run's noise floor\nfloor_cv = {cv:.6f}\n" \
           f'measured_at = "{measured_at}"\n'
    pattern = re.compile(rf"^\[{NOISE_TABLE}\]\n(?:(?!\[).*\n?)*", re.M)
    if pattern.search(text):
        return pattern.sub(body, text, count=1)
    return text.rstrip("\n") + "\n\n" + body


def record_noise_floor(profile: HostProfile, cv: float, measured_at: str) -> None:
    """The profile file with this run's noise floor in its [noise] table, written through a temp name."""
    write_text(profile.path, with_noise_floor(profile.path.read_text(), cv, measured_at))
