"""A user's image as a workload's user space, on every platform that can run it.

Flattened once into a cache entry keyed by the image's id, the harness's guest programs and the
workloads that run from it:
  images/<key>/rootfs/        the layers applied (flatten.py), plus mount points (proc, sys, dev)
                              and the harness's one directory, HARNESS_DIR: the static launcher,
                              the tree probe and each workload's spec
  images/<key>/disk.qcow2     the VM's disk of that tree (the harness's kernel and initramfs boot it)
  images/<key>/image.tar      the image as `docker save` wrote it (kept for engines that load it)
  images/<key>/image.json     what was built: the UserImage below
Containers run the image itself (its id unchanged); the harness's directory comes in as a
read-only bind mount, not as a layer. The tree's hash (treehash.py) is what every instance's
tree probe must report.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import config
from bench.definitions.workload import Workload
from bench.errors import BenchError
from bench.guest import static
from bench.guest.spec import SPEC, LauncherSpec
from bench.host import engines, files, killpoints
from bench.host.proc import os_error
from bench.images import flatten, oci, store, treehash, vmdisk
from bench.progress import Progress

RECIPE = 2  # bump when how an image's entry is made changes
INFO = "image.json"
MOUNT_POINTS = ("proc", "sys", "dev")  # where a VM's init moves its own; engines make their own
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # as Docker adds it


@dataclass(frozen=True)
class UserImage:
    source: str  # as the workload names it: a reference, or an archive's path
    id: str  # sha256:<config digest>: the image id in Docker and Podman
    bytes: int  # the image's size (its layers, uncompressed)
    layers: int
    architecture: str
    user: str  # the image config's User ("" for none: root)
    directory: str  # the cache entry
    tree_sha256: str  # the user space's hash, left out: what platforms inject (treehash.EXCLUDED)
    tree_entries: int
    vm_disk_sha256: str
    workloads: tuple[str, ...]

    @property
    def rootfs_dir(self) -> Path:
        return Path(self.directory) / "rootfs"

    @property
    def harness_dir(self) -> Path:
        return self.rootfs_dir / config.IMAGE_HARNESS_DIR.lstrip("/")

    @property
    def vm_disk(self) -> Path:
        return Path(self.directory) / "disk.qcow2"

    @property
    def archive(self) -> Path:
        return Path(self.directory) / "image.tar"

    @property
    def launcher(self) -> str:
        return f"{config.IMAGE_HARNESS_DIR}/launcher"

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "workloads": list(self.workloads)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> UserImage:
        return cls(**{**data, "workloads": tuple(data["workloads"])})  # type: ignore[arg-type]


def _lookup(tree: Path, database: str, key: str, by_name: bool) -> list[str] | None:
    """The line of /etc/passwd or /etc/group whose name (or number) is `key`, inside the image
    (not through a symlink, which could point anywhere on the host)."""
    path = tree / "etc" / database
    if path.is_symlink() or not path.is_file() or (tree / "etc").is_symlink():
        return None
    for line in path.read_text(errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0 if by_name else 2] == key:
            return fields
    return None


def resolve_user(tree: Path, user: str, image: str) -> tuple[int, int]:
    """The image's User as uid and gid, read as Docker reads it; without one, the harness's
    unprivileged uid and gid (no passwd entry needed)."""
    if not user:
        return config.GUEST_UID, config.GUEST_UID
    name, _, group = user.partition(":")
    if name.isdigit():
        uid = int(name)
        entry = _lookup(tree, "passwd", name, by_name=False)
    else:
        entry = _lookup(tree, "passwd", name, by_name=True)
        if entry is None:
            raise BenchError(f"image {image}: its User {name!r} is not in its /etc/passwd")
        uid = int(entry[2])
    if not group:
        return uid, int(entry[3]) if entry is not None else 0
    if group.isdigit():
        return uid, int(group)
    found = _lookup(tree, "group", group, by_name=True)
    if found is None:
        raise BenchError(f"image {image}: its group {group!r} is not in its /etc/group")
    return uid, int(found[2])


def spec_text(workload: Workload, image: oci.ImageConfig, tree: Path) -> str:
    """The launcher's spec of one workload: what it runs, as whom, where, with which environment."""
    argv = workload.command or image.argv
    if not argv:
        raise BenchError(f"workload {workload.name}: image {workload.image_source} has neither a command "
                         "(give `command`) nor an Entrypoint or Cmd")
    env = list(image.env)
    if not any(e.startswith("PATH=") for e in env):
        env.append(DEFAULT_PATH)
    uid, gid = resolve_user(tree, image.user, workload.image_source)
    return LauncherSpec(uid, gid, image.workdir or "/", tuple(env), tuple(argv), workload.seconds).text(
        f"workload {workload.name}")


def identify(workload: Workload, client: object | None) -> tuple[str, int]:
    """The image's id and size, without reading its layers. Nothing is ever pulled."""
    if workload.image_archive is not None:
        archive = oci.read(workload.image_archive)
        return archive.config.id, 0
    image = local_image(client, workload.image, f"workload {workload.name}: ")
    return image.id, int(image.attrs.get("Size") or 0)


def local_image(client: object, reference: str, what: str = "") -> Any:
    """The image `reference` names in the local Docker engine; never pulled. `what` begins an error."""
    import docker

    try:
        return client.images.get(reference)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        raise BenchError(f"{what}image {reference!r} is not in the local Docker engine (nothing is pulled: build "
                         "or load it first)") from None
    except engines.docker_failures() as e:
        raise BenchError(f"{what}docker: {engines.first_line(e)}") from None


def key_of(image_id: str, workloads: Iterable[Workload]) -> str:
    return store.digest({"recipe": RECIPE, "image": image_id, "programs": static.image_programs_inputs(),
                         "workloads": sorted((w.guest_spec() for w in workloads), key=lambda s: str(s["name"]))})


def ensure(workloads: list[Workload], arch: str, progress: Progress) -> dict[str, UserImage]:
    """Each of these workloads that names a user's image, with that image built (what is missing):
    workload → UserImage."""
    workloads = [w for w in workloads if w.user_image]
    if not workloads:
        return {}
    client = engines.docker_client() if any(w.image for w in workloads) else None
    by_image: dict[str, list[Workload]] = {}
    sizes: dict[str, int] = {}
    for w in workloads:
        image_id, sizes[w.name] = identify(w, client)
        by_image.setdefault(image_id, []).append(w)
    found = {}
    for image_id, group in by_image.items():
        built = _ensure_one(image_id, group, arch, client, progress, sizes[group[0].name])
        found.update({w.name: built for w in group})
    return found


def _ensure_one(image_id: str, workloads: list[Workload], arch: str, client: object | None,
                progress: Progress, engine_bytes: int) -> UserImage:
    final = store.entry("images", key_of(image_id, workloads))
    if (final / INFO).is_file():
        return UserImage.from_json(json.loads((final / INFO).read_text()))
    source = workloads[0].image_source
    with store.building(final) as tmp:
        archive_path = workloads[0].image_archive
        if archive_path is None:
            archive_path = tmp / "image.tar"
            with progress.step(f"user image {source}: docker save"):
                _save(client, image_id, archive_path, source)
        archive = oci.read(archive_path)
        if archive.config.id != image_id:
            raise BenchError(f"image {source}: its archive holds {archive.config.id}, not {image_id}")
        archive.require_architecture(arch)
        rootfs = tmp / "rootfs"
        rootfs.mkdir()
        killpoints.reach("build", "flatten")
        with progress.step(f"user image {source}: flattening {len(archive.layers)} layer(s)"):
            with archive.open_layers() as layers:
                flatten.flatten(layers, rootfs, f"image {source}")
        with progress.step(f"user image {source}: hashing its tree"):
            tree = treehash.tree_hash(rootfs)
        specs = {w.name: spec_text(w, archive.config, rootfs) for w in workloads}
        _add_harness(rootfs, specs, tmp / "programs")
        shutil.rmtree(tmp / "programs")
        killpoints.reach("build", "image_vm_disk")
        with progress.step(f"user image {source}: VM disk"):
            vmdisk.build_base(rootfs, tmp / "disk.qcow2", tmp, identity=image_id)
        built = UserImage(
            source=source, id=image_id, bytes=engine_bytes or archive.layer_bytes(), layers=len(archive.layers),
            architecture=archive.config.architecture, user=archive.config.user, directory=str(final),
            tree_sha256=tree.sha256, tree_entries=tree.entries, vm_disk_sha256=store.sha256_file(tmp / "disk.qcow2"),
            workloads=tuple(sorted(w.name for w in workloads)))
        if workloads[0].image_archive is not None:
            _keep_copy(archive_path, tmp / "image.tar")
        files.write_json(tmp / INFO, built.to_json())
    return built


def load_into_docker(client: object, built: UserImage) -> None:
    """The image in Docker's store, loaded from its archive where it is not (an archive's image)."""
    import docker

    try:
        client.images.get(built.id)  # type: ignore[attr-defined]
        return
    except docker.errors.ImageNotFound:
        pass
    except engines.docker_failures() as e:
        raise BenchError(f"docker: {engines.first_line(e)}") from None
    try:
        with built.archive.open("rb") as f:
            client.api.load_image(f)  # type: ignore[attr-defined]
        client.images.get(built.id)  # type: ignore[attr-defined]
    except (OSError, *engines.docker_failures()) as e:
        raise BenchError(f"image {built.source}: docker could not load it from {built.archive} "
                         f"({engines.first_line(e)}); an OCI layout needs an engine that loads one") from None


def _keep_copy(archive: Path, out: Path) -> None:
    """The user's archive, kept in the entry: a hard link where it can be, else a copy."""
    try:
        os.link(archive, out)
    except OSError:
        shutil.copyfile(archive, out)


def _save(client: object, image_id: str, out: Path, source: str) -> None:
    try:
        with out.open("wb") as f:
            for chunk in client.api.get_image(image_id):  # type: ignore[union-attr]
                f.write(chunk)
    except engines.docker_failures() as e:
        raise BenchError(f"image {source}: docker save failed: {engines.first_line(e)}") from None
    except OSError as e:
        raise os_error(f"image {source}: docker save", e) from None


def _add_harness(rootfs: Path, specs: dict[str, str], work: Path) -> None:
    for point in MOUNT_POINTS:
        target = rootfs / point
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            raise BenchError(f"image: /{point} is not a directory, which every platform mounts over")
        target.mkdir(mode=0o755, exist_ok=True)
    harness = rootfs / config.IMAGE_HARNESS_DIR.lstrip("/")
    if harness.exists() or harness.is_symlink():
        raise BenchError(f"image: it already has {config.IMAGE_HARNESS_DIR}, the harness's own directory")
    static.build_image_programs(harness, work)
    for name, text in specs.items():
        (harness / "workloads" / name).mkdir(parents=True)
        (harness / "workloads" / name / SPEC).write_text(text)
    for directory, _, names in os.walk(harness):
        os.chmod(directory, 0o755)
        for n in names:
            os.chmod(os.path.join(directory, n), 0o755 if n != SPEC else 0o644)
