"""The image manifest: every artifact built from the one root filesystem, with its sha256,
and the installed package versions. Runs record it; `bench images verify` re-checks it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from bench import config
from bench.definitions.workload import Workload
from bench.errors import BenchError
from bench.host import files
from bench.images import store

SCHEMA = 2  # 2: app_images
LATEST = "latest.json"


@dataclass(frozen=True)
class Artifact:
    path: str  # a file, or a Docker image reference
    sha256: str  # of the file's bytes; for the Docker image, its id
    bytes: int  # space it takes on the host (allocated; the image size for Docker)


@dataclass(frozen=True)
class Manifest:
    key: str
    schema: int
    harness_version: str
    suite: str
    variant: str
    arch: str
    workloads: dict[str, dict[str, Any]]  # name → what of it is baked into the image
    packages: dict[str, str]  # installed Debian package → version
    kernel_source: str
    kernel_release: str
    initramfs_modules: list[str]
    build_seconds: dict[str, float]
    dpkg_status_sha256: str  # what the `hello` workload must print on every platform
    rootfs_dir: str  # the native platform's chroot, unpacked from rootfs_tar
    rootfs_tar: Artifact
    container_image: Artifact
    vm_disk: Artifact
    kernel: Artifact
    initramfs: Artifact
    app_images: dict[str, Artifact]  # workload → its application-only container image (docker-app)

    ARTIFACTS = ("rootfs_tar", "container_image", "vm_disk", "kernel", "initramfs")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        values = {f.name: data[f.name] for f in fields(cls)}
        for name in cls.ARTIFACTS:
            values[name] = Artifact(**values[name])
        values["app_images"] = {w: Artifact(**a) for w, a in values["app_images"].items()}
        return cls(**values)

    def saved_path(self) -> Path:
        return config.cache_dir() / "manifests" / f"{self.key}.json"

    def save(self) -> Path:
        path = self.saved_path()
        directory = path.parent
        directory.mkdir(parents=True, exist_ok=True)
        files.write_json(path, self.to_json())
        latest = directory / LATEST
        link = files.temp_path(directory / LATEST)
        link.unlink(missing_ok=True)
        link.symlink_to(path.name)
        os.replace(link, latest)
        return path

    def require(self, workload: Workload) -> None:
        """Refuse to run a workload the image lacks or holds in an older definition."""
        baked = self.workloads.get(workload.name)
        if baked is None:
            raise BenchError(f"workload {workload.name!r} is not in the built images "
                             f"(they hold: {', '.join(sorted(self.workloads))}); run `bench images build`")
        if baked != workload.guest_spec():
            raise BenchError(f"workload {workload.name!r} changed since the images were built; "
                             "run `bench images build`")

    def verify(self, docker_image_id: str | None, app_image_ids: dict[str, str | None] | None = None) -> list[str]:
        """Problems found re-hashing every artifact; empty when all is intact. The Docker
        images are given as the ids their references have in the engine now."""
        problems = []
        for workload, artifact in self.app_images.items():
            found = (app_image_ids or {}).get(workload)
            if found != artifact.sha256:
                problems.append(f"app_images.{workload}: {artifact.path} is {found or 'missing'}, "
                                f"manifest says {artifact.sha256}")
        for name in self.ARTIFACTS:
            artifact: Artifact = getattr(self, name)
            if name == "container_image":
                if docker_image_id != artifact.sha256:
                    problems.append(f"{name}: {artifact.path} is {docker_image_id or 'missing'}, "
                                    f"manifest says {artifact.sha256}")
                continue
            path = Path(artifact.path)
            if not path.is_file():
                problems.append(f"{name}: {path} is missing")
            elif store.sha256_file(path) != artifact.sha256:
                problems.append(f"{name}: {path} does not match its sha256")
        if not Path(self.rootfs_dir, "var/lib/dpkg/status").is_file():
            problems.append(f"rootfs_dir: {self.rootfs_dir} is missing")
        return problems


def load(path: Path | None = None) -> Manifest:
    path = path or config.cache_dir() / "manifests" / LATEST
    try:
        data = json.loads(path.read_text())
        if data.get("schema") != SCHEMA:
            raise BenchError(f"{path}: manifest schema {data.get('schema')} is not {SCHEMA}; "
                             "run `bench images build`")
        return Manifest.from_json(data)
    except FileNotFoundError:
        raise BenchError("no images built yet: run `bench images build`") from None
    except (ValueError, KeyError, TypeError) as e:
        raise BenchError(f"{path}: not a valid image manifest ({e})") from None
