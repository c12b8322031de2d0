"""Application-only container images (`docker-app`): per workload, only what its command
needs to run, the way a minimal `FROM scratch` image is built.

From the one root filesystem: the workload's programs, each with its shared-library closure
(the rootfs's own `ldd`, run in a chroot of it), the absolute paths its command names, the static
launcher and the workload's spec, the user database, and a shell for `sh -c` commands. Nothing
else: no package manager, no dpkg database, no coreutils the command does not run.

The shell is the rootfs's dash, whose one need is libc, which every program here needs anyway.
Not a static busybox: Debian's runs its own applets in place of the programs on PATH.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import stat
import subprocess
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

import docker

from bench import config
from bench.definitions.workload import Workload
from bench.errors import BenchError
from bench.guest.spec import SPEC
from bench.host import engines
from bench.host.proc import failure_summary, os_error
from bench.images import store
from bench.images.rootfs import SOURCE_DATE_EPOCH

REPOSITORY = f"{config.LABEL}/app"
PATH = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")
SHELLS = {"sh", "bash", "dash", "/bin/sh", "/usr/bin/sh"}
SHELL = "/usr/bin/dash"
DATA_FILES = ("/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
# Empty directories a workload or the launcher uses; world-writable with the sticky bit.
SCRATCH_DIRS = ("/tmp", "/var/tmp")
LDD_LINE = re.compile(r"^\s*(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$")


def programs(workload: Workload) -> list[str]:
    """The programs a workload's command runs: its first word, or for a shell script the first
    word of each of its lines."""
    command = workload.command
    if command[0] not in SHELLS:
        return [command[0]]
    script = command[command.index("-c") + 1] if "-c" in command[:-1] else ""
    found = []
    for line in script.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            words = line.split()
        if words[:1] == ["exec"]:  # the shell replaced by the program (a server workload)
            words = words[1:]
        if words:
            found.append(words[0])
    return list(dict.fromkeys(found))


def _which(tree: Path, program: str) -> str | None:
    if program.startswith("/"):
        return program if (tree / program.lstrip("/")).exists() else None
    return next((f"{d}/{program}" for d in PATH if _is_file(tree, f"{d}/{program}")), None)


def _is_file(tree: Path, path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(_resolve(tree, path)).st_mode)
    except OSError:
        return False


def _walk(tree: Path, path: str) -> Iterator[PurePosixPath]:
    """Every path the image passes through to reach `path`, in order: each directory, each
    symlink and then where it points (absolute targets from the image's root, not the host's)."""
    current = PurePosixPath("/")
    parts = list(PurePosixPath(path).parts[1:])
    hops = 0
    while parts:
        part = parts.pop(0)
        current = current.parent if part == ".." else current / part
        yield current
        host = tree / str(current).lstrip("/")
        if host.is_symlink():
            hops += 1
            if hops > 40:
                raise BenchError(f"app image: symlink loop at {current}")
            target = PurePosixPath(os.readlink(host))
            parts = list(target.parts[1:] if target.is_absolute() else target.parts) + parts
            current = PurePosixPath("/") if target.is_absolute() else current.parent


def _resolve(tree: Path, path: str) -> Path:
    """`path` inside the image, every symlink on the way followed as the image would."""
    last = PurePosixPath("/")
    for last in _walk(tree, path):
        pass
    return tree / str(last).lstrip("/")


@functools.cache  # the launcher's programs are in every workload's image: one ldd each per build
def libraries(tree: Path, binary: str) -> tuple[str, ...]:
    """The shared-library closure of `binary`, as the rootfs's dynamic loader resolves it."""
    try:
        done = subprocess.run(["chroot", str(tree), "/usr/bin/ldd", binary], capture_output=True, text=True)
    except OSError as e:
        raise os_error(f"app image: ldd {binary}", e) from None
    text = done.stdout + done.stderr
    if "not a dynamic executable" in text or "statically linked" in text:
        return ()
    if done.returncode != 0:
        raise BenchError(f"app image: {failure_summary('ldd', done.returncode, text)} ({binary})")
    missing = [line.split()[0] for line in text.splitlines() if "=> not found" in line]
    if missing:
        raise BenchError(f"app image: {binary} needs {', '.join(missing)}, which the rootfs lacks")
    return tuple(m.group(1) for line in text.splitlines() if (m := LDD_LINE.match(line)))


def contents(tree: Path, workload: Workload) -> list[str]:
    """Every path the workload's image holds (files; their directories and symlinks are added
    when the tarball is written)."""
    wanted = programs(workload)
    binaries = []
    for program in wanted:
        path = _which(tree, program)
        if path is None:
            if program in SHELLS:
                continue  # SHELL, added below, stands in
            raise BenchError(f"app image: workload {workload.name!r} runs {program!r}, not in the rootfs")
        binaries.append(path)
    binaries.append(SHELL)
    paths = [*binaries, config.GUEST_LAUNCHER, f"{config.GUEST_LIB}/workloads/{workload.name}/{SPEC}"]
    for binary in binaries:
        paths += libraries(tree, binary)
    paths += [p for p in DATA_FILES if (tree / p.lstrip("/")).exists()]
    # Files the command names by absolute path (hello's /var/lib/dpkg/status).
    paths += [word for word in workload.command[1:] if word.startswith("/") and _is_file(tree, word)]
    for extra in workload.app_paths:
        files = _files_under(tree, extra)
        if not files:
            raise BenchError(f"app image: workload {workload.name!r} names {extra!r} in app_paths, not in the rootfs")
        paths += files
        paths += [lib for f in files if _is_elf(tree, f) for lib in libraries(tree, f)]
    return list(dict.fromkeys(paths))


def _files_under(tree: Path, path: str) -> list[str]:
    """`path` itself when a file; every file and symlink beneath it when a directory."""
    host = _resolve(tree, path)
    if not host.is_dir():
        return [path] if host.exists() else []
    found = [path]
    for directory, _, names in os.walk(host):
        inside = "/" + str(Path(directory).relative_to(tree))
        found += [f"{inside}/{name}" for name in sorted(names)]
    return found


def _is_elf(tree: Path, path: str) -> bool:
    """A binary or shared object (a server's loadable module), whose libraries come too."""
    try:
        with _resolve(tree, path).open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


class _Writer:
    """A deterministic tarball of some paths of a tree, with their parent directories and every
    symlink on the way, as in the tree."""

    def __init__(self, tree: Path, tar: tarfile.TarFile):
        self.tree, self.tar, self.done = tree, tar, set[str]()

    def _info(self, path: str, host: Path) -> tarfile.TarInfo:
        st = os.lstat(host)
        info = tarfile.TarInfo(path.lstrip("/"))
        info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        info.mtime = int(SOURCE_DATE_EPOCH)
        return info

    def add(self, path: str) -> None:
        for step in _walk(self.tree, path):
            if str(step) in self.done:
                continue
            self.done.add(str(step))
            host = self.tree / str(step).lstrip("/")
            info = self._info(str(step), host)
            if host.is_symlink():
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(host)
                self.tar.addfile(info)
            elif host.is_dir():
                info.type = tarfile.DIRTYPE
                self.tar.addfile(info)
            else:
                info.size = host.stat().st_size
                with host.open("rb") as f:
                    self.tar.addfile(info, f)

    def scratch(self, path: str) -> None:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777, int(SOURCE_DATE_EPOCH)
        self.tar.addfile(info)


def write_tar(tree: Path, paths: Iterable[str], out: Path) -> None:
    """`out` is a scratch file of the build (removed after the import)."""
    with tarfile.open(out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        writer = _Writer(tree, tar)
        for path in sorted({*paths, "/bin/sh"}):
            writer.add(path)
        for directory in SCRATCH_DIRS:
            if directory not in writer.done:
                writer.add(str(PurePosixPath(directory).parent))
                writer.scratch(directory)


def reference(workload: str, tar_sha256: str) -> str:
    return f"{REPOSITORY}-{workload}:{tar_sha256[:16]}"


def ensure(client: docker.DockerClient, tree: Path, workload: Workload, work: Path) -> tuple[str, str, int]:
    """The workload's app-only image, imported if not there yet: (reference, image id, bytes)."""
    tar = work / f"app-{workload.name}.tar"
    write_tar(tree, contents(tree, workload), tar)
    tar_sha = store.sha256_file(tar)
    ref = reference(workload.name, tar_sha)
    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        repository, tag = ref.split(":")
        changes = [f"LABEL {config.LABEL}=image", f"LABEL {config.LABEL}.app-sha256={tar_sha}",
                   f'CMD ["{config.GUEST_LAUNCHER}"]']
        try:
            client.api.import_image_from_file(str(tar), repository=repository, tag=tag, changes=changes)
            image = client.images.get(ref)
        except engines.docker_failures() as e:
            raise BenchError(f"app image {ref}: docker import failed: {e}") from None
    finally:
        tar.unlink(missing_ok=True)
    _remove_older(client, ref)
    return ref, image.id, int(image.attrs.get("Size", 0))


def _remove_older(client: docker.DockerClient, current: str) -> None:
    """Earlier builds of the same workload's image (its content changed); one in use stays."""
    repository = current.split(":")[0]
    for image in client.images.list(name=repository):
        if current not in image.tags:
            try:
                client.images.remove(image.id)
            except engines.docker_failures():
                pass
