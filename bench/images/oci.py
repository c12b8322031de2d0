"""A user's container image, read from an archive: `docker save`'s format (manifest.json) or an
OCI image layout (index.json, blobs/sha256/...). Nothing here talks to a registry.

The image's identity is its config's sha256 (what Docker and Podman call the image id), checked
against the config's bytes; its layers are read in order, each a (possibly gzip-compressed) tar.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench.errors import BenchError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# Debian's architecture names → the image config's (Go's) names.
ARCHITECTURES = {"amd64": "amd64", "arm64": "arm64", "armhf": "arm", "i386": "386", "ppc64el": "ppc64le",
                 "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class ImageConfig:
    """What of an image's config decides how its command runs, identically on every platform."""

    id: str  # sha256:<hex of the config's bytes>
    architecture: str
    env: tuple[str, ...]
    user: str
    workdir: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    exposed_ports: tuple[str, ...]  # "8080/tcp"

    @property
    def argv(self) -> tuple[str, ...]:
        return self.entrypoint + self.cmd

    @classmethod
    def parse(cls, raw: bytes, what: str) -> ImageConfig:
        try:
            data = json.loads(raw)
            config = data.get("config") or {}
            return cls(
                id="sha256:" + hashlib.sha256(raw).hexdigest(),
                architecture=str(data.get("architecture", "")),
                env=tuple(str(e) for e in config.get("Env") or ()),
                user=str(config.get("User") or ""),
                workdir=str(config.get("WorkingDir") or ""),
                entrypoint=tuple(str(a) for a in config.get("Entrypoint") or ()),
                cmd=tuple(str(a) for a in config.get("Cmd") or ()),
                exposed_ports=tuple(sorted(config.get("ExposedPorts") or {})),
            )
        except (ValueError, AttributeError, TypeError) as e:
            raise BenchError(f"{what}: the image config is not valid JSON of an image ({e})") from None


@dataclass(frozen=True)
class ImageArchive:
    path: Path
    config: ImageConfig
    layers: tuple[str, ...]  # member names of the layer tarballs in the archive, lowest first

    def require_architecture(self, debian_arch: str) -> None:
        wanted = ARCHITECTURES.get(debian_arch, debian_arch)
        if self.config.architecture and self.config.architecture != wanted:
            raise BenchError(f"image {self.path}: built for {self.config.architecture}, this host is {wanted}")

    def layer_bytes(self) -> int:
        """The layers' size as stored in the archive."""
        with _open(self.path) as tar:
            return sum(tar.getmember(name).size for name in self.layers)

    @contextmanager
    def open_layers(self) -> Iterator[Iterator[tarfile.TarFile]]:
        """Each layer as a tar stream, lowest first."""
        with _open(self.path) as outer:
            def layers() -> Iterator[tarfile.TarFile]:
                for index, name in enumerate(self.layers):
                    blob = _member(outer, name, f"image {self.path}: layer {index + 1}")
                    try:
                        with tarfile.open(fileobj=blob, mode="r|*") as layer:
                            yield layer
                    except (tarfile.TarError, EOFError, OSError) as e:
                        if isinstance(e, OSError) and e.errno is not None:
                            raise
                        raise BenchError(f"image {self.path}: layer {index + 1} is not a readable tar ({e})") from None
            yield layers()


@contextmanager
def _open(path: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(path, mode="r:*") as tar:
            yield tar
    except FileNotFoundError:
        raise BenchError(f"image archive {path}: no such file") from None
    except (tarfile.TarError, EOFError) as e:
        raise BenchError(f"image archive {path}: not a tar archive ({e})") from None


def _member(tar: tarfile.TarFile, name: str, what: str) -> IO[bytes]:
    try:
        f = tar.extractfile(name)
    except KeyError:
        f = None
    if f is None:
        raise BenchError(f"{what}: {name} is missing from the archive")
    return f


def _json(tar: tarfile.TarFile, name: str, what: str) -> Any:
    try:
        return json.loads(_member(tar, name, what).read())
    except ValueError as e:
        raise BenchError(f"{what}: {name} is not JSON ({e})") from None


def _blob(digest: object, what: str) -> str:
    algorithm, _, hexdigest = str(digest).partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64 or not all(c in "0123456789abcdef" for c in hexdigest):
        raise BenchError(f"{what}: unsupported digest {digest!r}")
    return f"blobs/sha256/{hexdigest}"


def read(path: Path) -> ImageArchive:
    """The image in a `docker save` tarball or an OCI image layout archive (its only image)."""
    what = f"image archive {path}"
    with _open(path) as tar:
        names = set(tar.getnames())
        if "manifest.json" in names:
            return _read_docker(tar, path, what)
        if "index.json" in names:
            return _read_oci(tar, path, what)
    raise BenchError(f"{what}: not an image (neither docker save's manifest.json nor an OCI index.json)")


def _read_docker(tar: tarfile.TarFile, path: Path, what: str) -> ImageArchive:
    manifest = _json(tar, "manifest.json", what)
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        raise BenchError(f"{what}: manifest.json must list exactly one image")
    entry = manifest[0]
    config = ImageConfig.parse(_member(tar, str(entry.get("Config")), what).read(), what)
    layers = entry.get("Layers")
    if not isinstance(layers, list) or not all(isinstance(layer, str) for layer in layers):
        raise BenchError(f"{what}: manifest.json gives no list of layers")
    return ImageArchive(path, config, tuple(layers))


def _read_oci(tar: tarfile.TarFile, path: Path, what: str) -> ImageArchive:
    document = _json(tar, "index.json", what)
    for _ in range(4):  # an index may point at a nested index (a multi-platform image)
        manifests = document.get("manifests") if isinstance(document, dict) else None
        if isinstance(document, dict) and document.get("layers") is not None:
            break
        if not isinstance(manifests, list) or len(manifests) != 1:
            raise BenchError(f"{what}: its index must name exactly one image manifest")
        document = _json(tar, _blob(manifests[0].get("digest"), what), what)
    config_blob = _blob((document.get("config") or {}).get("digest"), what)
    config = ImageConfig.parse(_member(tar, config_blob, what).read(), what)
    layers = tuple(_blob(layer.get("digest"), what) for layer in document.get("layers") or ())
    return ImageArchive(path, config, layers)
