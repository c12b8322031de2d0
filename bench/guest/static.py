"""The harness's own programs for inside an instance, compiled static from bench/guest/*.c: they
use no library of the image they run in (any libc or none, no shell)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from bench.errors import BenchError
from bench.host.proc import run

# Besides the exposure probe: the image launcher and the tree probe, by file name.
IMAGE_PROGRAMS = {"launcher": "imagelauncher.c", "treehash": "treehash.c"}


def source(name: str) -> str:
    return resources.files("bench.guest").joinpath(name).read_text()


def compiler(what: str) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise BenchError(f"{what}: no C compiler (install Debian's gcc and libc6-dev: make setup does)")
    return cc


def build(source_name: str, out: Path, work: Path, headers: dict[str, str] | None = None,
          cc: str | None = None) -> None:
    """Compile bench/guest/`source_name` (with generated `headers` beside it) static into `out`."""
    cc = cc or compiler(source_name)
    work.mkdir(parents=True, exist_ok=True)
    (work / source_name).write_text(source(source_name))
    for name, text in (headers or {}).items():
        (work / name).write_text(text)
    run([cc, "-static", "-O2", "-Wall", "-Werror", "-o", str(out), str(work / source_name)], f"{source_name} build")


def build_image_programs(directory: Path, work: Path) -> None:
    """The launcher and the tree probe, into the harness's directory of an image."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, source_name in IMAGE_PROGRAMS.items():
        build(source_name, directory / name, work)


def image_programs_inputs() -> dict[str, str]:
    """What decides those programs: their sources (a change means every image's rebuild)."""
    return {name: source(source_name) for name, source_name in IMAGE_PROGRAMS.items()}
