"""Layer tarballs and image archives made in memory, for the flattening and archive tests."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    name: str
    kind: bytes = tarfile.REGTYPE
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    link: str = ""
    xattrs: dict[str, bytes] = field(default_factory=dict)


def layer(*entries: Entry, gzip: bool = False) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gzip else "w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type, info.mode, info.uid, info.gid, info.linkname = e.kind, e.mode, e.uid, e.gid, e.link
            info.mtime = 1700000000
            info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in e.xattrs.items()}
            if e.kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return out.getvalue()


def config_json(architecture: str = "amd64", **image_config: object) -> bytes:
    return json.dumps({"architecture": architecture, "os": "linux", "config": image_config,
                       "rootfs": {"type": "layers", "diff_ids": []}}).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def docker_archive(path: Path, layers: list[bytes], config: bytes) -> str:
    """A `docker save` tarball; the image id."""
    digest = hashlib.sha256(config).hexdigest()
    names = [f"{i}/layer.tar" for i in range(len(layers))]
    with tarfile.open(path, "w") as tar:
        _add(tar, f"{digest}.json", config)
        for name, data in zip(names, layers):
            _add(tar, name, data)
        _add(tar, "manifest.json", json.dumps([{"Config": f"{digest}.json", "RepoTags": None,
                                                "Layers": names}]).encode())
    return f"sha256:{digest}"


def oci_archive(path: Path, layers: list[bytes], config: bytes) -> str:
    """An OCI image layout in a tarball (compressed or not, as the layers are); the image id."""
    def blob(data: bytes) -> tuple[str, bytes]:
        return f"sha256:{hashlib.sha256(data).hexdigest()}", data

    config_digest, _ = blob(config)
    layer_blobs = [blob(data) for data in layers]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"digest": config_digest, "size": len(config)},
                           "layers": [{"digest": d, "size": len(b)} for d, b in layer_blobs]}).encode()
    manifest_digest, _ = blob(manifest)
    index = json.dumps({"schemaVersion": 2, "manifests": [{"digest": manifest_digest, "size": len(manifest)}]})
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add(tar, "index.json", index.encode())
        for digest, data in [(config_digest, config), (manifest_digest, manifest), *layer_blobs]:
            _add(tar, f"blobs/sha256/{digest.split(':')[1]}", data)
    return config_digest
