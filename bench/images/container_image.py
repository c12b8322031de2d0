"""The container image: the root filesystem tarball imported into Docker (no registry needed),
tagged by the tarball's content hash and labelled as the harness's.
"""

from __future__ import annotations

import json
from pathlib import Path

import docker

from bench import config
from bench.errors import BenchError

REPOSITORY = f"{config.LABEL}/rootfs"


def reference(tar_sha256: str) -> str:
    return f"{REPOSITORY}:{tar_sha256[:16]}"


def find(client: docker.DockerClient, tar_sha256: str) -> str | None:
    """The id of the image already imported from this tarball, if any."""
    try:
        image = client.images.get(reference(tar_sha256))
    except docker.errors.ImageNotFound:
        return None
    labels = image.labels or {}
    return image.id if labels.get(f"{config.LABEL}.rootfs-sha256") == tar_sha256 else None


def import_rootfs(client: docker.DockerClient, tar: Path, tar_sha256: str) -> str:
    changes = [
        f"LABEL {config.LABEL}=image",
        f"LABEL {config.LABEL}.rootfs-sha256={tar_sha256}",
        f"CMD {json.dumps([config.GUEST_LAUNCHER])}",
    ]
    repository, tag = reference(tar_sha256).split(":")
    try:
        client.api.import_image_from_file(str(tar), repository=repository, tag=tag, changes=changes)
    except docker.errors.APIError as e:
        raise BenchError(f"container image: docker import failed: {e.explanation or e}") from None
    image_id = find(client, tar_sha256)
    if image_id is None:
        raise BenchError(f"container image: {reference(tar_sha256)} missing right after docker import")
    return image_id
