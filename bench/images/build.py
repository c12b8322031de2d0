"""`bench images build`: from ONE root filesystem, every platform's artifact.

Each cache entry is keyed by its inputs, so a second build with nothing changed is a no-op:
  kernel/<key>/  vmlinuz, initramfs.img               (kernel.py)
  rootfs/<key>/  rootfs.tar, rootfs/ (native chroot), disk.qcow2 (VM base), rootfs.json
  Docker         vmct-bench/rootfs:<tar sha256>       (container_image.py)
                 vmct-bench/app-<workload>:<tar sha256> (app_image.py: only what the workload needs)
  manifests/     <key>.json and latest.json
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import bench
from bench import config
from bench.definitions.workload import Workload
from bench.host import engines, files, killpoints
from bench.images import app_image, container_image, kernel, manifest, rootfs, store, user_image, vmdisk
from bench.images.manifest import Artifact, Manifest, SCHEMA
from bench.images.user_image import UserImage
from bench.progress import Progress

ROOTFS_JSON = "rootfs.json"


@dataclass(frozen=True)
class RootfsEntry:
    directory: Path
    info: dict  # what rootfs.json holds: inputs, hashes, package versions, build times

    @property
    def tar(self) -> Path:
        return self.directory / "rootfs.tar"

    @property
    def tree(self) -> Path:
        return self.directory / "rootfs"

    @property
    def disk(self) -> Path:
        return self.directory / "disk.qcow2"


def build(workloads: list[Workload], progress: Progress, user_kernel: Path | None = None,
          user_initramfs: Path | None = None) -> tuple[Manifest, dict[str, UserImage]]:
    """The Debian images' manifest, and each workload's user image where it names one."""
    store.require_root("bench images build")
    users = [w for w in workloads if w.user_image]
    workloads = [w for w in workloads if w.baked]  # an interference workload runs the others' commands
    if users and not workloads:  # users' images only: the Debian images stay as they are
        current = manifest.load()
        return current, user_image.ensure(users, current.arch, progress)
    boot = kernel.ensure(progress, user_kernel, user_initramfs)
    entry = ensure_rootfs(workloads, progress)
    built_users = user_image.ensure(users, entry.info["inputs"]["arch"], progress)
    client = engines.docker_client()
    tar_sha = entry.info["sha256"]["rootfs_tar"]
    image_id = container_image.find(client, tar_sha)
    seconds = dict(entry.info["build_seconds"])
    if image_id is None:
        with progress.step("container image: docker import") as step:
            image_id = container_image.import_rootfs(client, entry.tar, tar_sha)
        seconds["docker_import"] = step.seconds
    image_bytes = client.images.get(image_id).attrs.get("Size", 0)
    apps, seconds["app_images"] = app_images(client, entry, workloads, progress)

    key = store.digest({"rootfs": entry.directory.name, "boot": boot.kernel.parent.name,
                        "image": image_id, "apps": {w: a.sha256 for w, a in apps.items()}, "schema": SCHEMA})
    path = store.entry("manifests", f"{key}.json")
    if path.is_file():
        existing = manifest.load(path)
        existing.save()  # point latest.json at it again
        return existing, built_users
    with progress.step("manifest: hashing kernel and initramfs"):
        built = Manifest(
            key=key, schema=SCHEMA, harness_version=bench.__version__,
            suite=rootfs.SUITE, variant=rootfs.VARIANT, arch=entry.info["inputs"]["arch"],
            workloads={w.name: w.guest_spec() for w in workloads},
            packages=entry.info["packages"],
            kernel_source=boot.source, kernel_release=boot.release,
            initramfs_modules=list(boot.modules), build_seconds=seconds,
            dpkg_status_sha256=entry.info["sha256"]["dpkg_status"],
            rootfs_dir=str(entry.tree),
            rootfs_tar=_file_artifact(entry.tar, tar_sha),
            container_image=Artifact(container_image.reference(tar_sha), image_id, image_bytes),
            app_images=apps,
            vm_disk=_file_artifact(entry.disk, entry.info["sha256"]["vm_disk"]),
            kernel=_file_artifact(boot.kernel),
            initramfs=_file_artifact(boot.initramfs),
        )
        built.save()
    return built, built_users


def app_images(client: object, entry: RootfsEntry, workloads: list[Workload],
               progress: Progress) -> tuple[dict[str, Artifact], float]:
    """Each workload's application-only image (imported only when its content changed), and
    the seconds it took."""
    found = {}
    # Named with this process's pid, as every build directory is: `bench clean` spares it while we live.
    with progress.step(f"app-only images: {len(workloads)} workload(s)") as step, \
            store.scratch(config.cache_dir() / "app-images") as work:
        killpoints.reach("build", "app_images")
        for w in workloads:
            found[w.name] = Artifact(*app_image.ensure(client, entry.tree, w, work))  # type: ignore[arg-type]
    return found, step.seconds


def ensure_rootfs(workloads: list[Workload], progress: Progress) -> RootfsEntry:
    arch = kernel.host_arch()
    kernel.require_arch(arch)
    inputs = rootfs.inputs(workloads, arch)
    final = store.entry("rootfs", store.digest(inputs))
    if (final / ROOTFS_JSON).is_file():
        return RootfsEntry(final, json.loads((final / ROOTFS_JSON).read_text()))
    seconds: dict[str, float] = {}
    with store.building(final) as tmp:
        work = tmp / "work"
        work.mkdir()
        entry = RootfsEntry(tmp, {})
        extra = rootfs.packages(workloads)
        with progress.step(f"rootfs: mmdebstrap {rootfs.SUITE} {rootfs.VARIANT} "
                           f"+ {len(extra)} package(s)") as step:
            rootfs.bootstrap(entry.tar, workloads, work)
        seconds["bootstrap"] = step.seconds
        with progress.step("rootfs: unpacking the native chroot") as step:
            rootfs.extract(entry.tar, entry.tree)
        seconds["unpack"] = step.seconds
        tar_sha = store.sha256_file(entry.tar)
        with progress.step("vm disk: ext4 image to qcow2 base") as step:
            vmdisk.build_base(entry.tree, entry.disk, work, identity=tar_sha)
        seconds["vm_disk"] = step.seconds
        with progress.step("hashing the vm disk"):
            info = {
                "inputs": inputs, "build_seconds": seconds,
                "packages": rootfs.installed_packages(entry.tree),
                "sha256": {
                    "rootfs_tar": tar_sha,
                    "vm_disk": store.sha256_file(entry.disk),
                    "dpkg_status": store.sha256_file(entry.tree / "var/lib/dpkg/status"),
                },
            }
        shutil.rmtree(work)
        files.write_json(tmp / ROOTFS_JSON, info)
    return RootfsEntry(final, info)


def _file_artifact(path: Path, sha256: str | None = None) -> Artifact:
    return Artifact(str(path), sha256 or store.sha256_file(path), vmdisk.allocated_bytes(path))
