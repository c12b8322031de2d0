"""What run.json records about where and how a run was made, so it can be reproduced."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

import bench
from bench import config
from bench.errors import BenchError
from bench.host import engines, facts
from bench.images.engine_disk import ARTIFACT as ENGINE_ARTIFACT, EngineDisk
from bench.images.manifest import Manifest
from bench.images.user_image import UserImage
from bench.model.registry import is_vm
from bench.operations import accel
from bench.rundir.info import Harness

LIBRARIES = ("docker", "libvirt-python", "psutil", "pandas", "numpy", "matplotlib", "jinja2")


def command_line() -> str:
    return shlex.join(["bench", *sys.argv[1:]])


def git_commit() -> Harness:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(config.PROJECT_ROOT), *args],
                              capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""
    commit = git("rev-parse", "HEAD")
    return Harness(commit or "unknown (not a git checkout)",
                   bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None)


def versions(platforms: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {"python": sys.version.split()[0], "vmct-bench": bench.__version__}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    if any(p.startswith("docker") for p in platforms):
        try:
            version = engines.docker_client(timeout=10).version()
            found["docker engine"] = f"{version.get('Version')} (API {version.get('ApiVersion')})"
        except BenchError as e:
            found["docker engine"] = str(e)
    if any(is_vm(p) for p in platforms):
        conn = engines.libvirt_connection()
        lib, hv = conn.getLibVersion(), conn.getVersion()
        found["libvirt"] = f"{lib // 1_000_000}.{lib // 1000 % 1000}.{lib % 1000}"
        found["qemu"] = f"{hv // 1_000_000}.{hv // 1000 % 1000}.{hv % 1000}"
    return found


def images(manifest: Manifest, engine: EngineDisk | None = None, user_images: dict[str, UserImage] | None = None,
           user_engines: dict[str, EngineDisk] | None = None) -> dict[str, Any]:
    """The manifest's artifacts; with vm-docker in the suite, its disk too (made on first use);
    each user's image a workload runs from: its reference, id, size, layers and tree hash, and
    vm-docker's disk of it where vm-docker runs it."""
    found = {"manifest": str(manifest.saved_path()), "key": manifest.key,
             "kernel": manifest.kernel_release, "kernel_source": manifest.kernel_source,
             "distribution": f"Debian {manifest.suite} {manifest.variant} {manifest.arch}",
             "packages": len(manifest.packages), "build_seconds": dict(manifest.build_seconds),
             "artifacts": {name: getattr(manifest, name).sha256 for name in manifest.ARTIFACTS},
             "bytes": {name: getattr(manifest, name).bytes for name in manifest.ARTIFACTS},
             "app_images": {w: {"id": a.sha256, "bytes": a.bytes} for w, a in manifest.app_images.items()}}
    if engine is not None:
        found["build_seconds"][ENGINE_ARTIFACT] = engine.build_seconds
        found["artifacts"][ENGINE_ARTIFACT] = engine.sha256
        found["bytes"][ENGINE_ARTIFACT] = engine.bytes
    if user_images:
        found["user_images"] = {w: {"source": u.source, "id": u.id, "bytes": u.bytes, "layers": u.layers,
                                    "architecture": u.architecture, "tree_sha256": u.tree_sha256,
                                    "tree_entries": u.tree_entries, "vm_disk_sha256": u.vm_disk_sha256}
                                for w, u in sorted(user_images.items())}
    for w, disk in (user_engines or {}).items():
        found["user_images"][w][ENGINE_ARTIFACT] = {"sha256": disk.sha256, "bytes": disk.bytes,
                                                   "build_seconds": disk.build_seconds}
    return found


def storage() -> dict[str, Any]:
    """The file system that holds the images and instance disks: the host's disk capacity."""
    path = config.cache_dir()
    try:
        usage = shutil.disk_usage(path)
    except OSError as e:
        return {"path": str(path), "error": str(e)}
    return {"path": str(path), "total_bytes": usage.total, "free_bytes": usage.free}


def describe(platforms: tuple[str, ...], manifest: Manifest, engine: EngineDisk | None = None,
             user_images: dict[str, UserImage] | None = None,
             user_engines: dict[str, EngineDisk] | None = None) -> dict[str, Any]:
    """RunInfo's fields on where and how the run is made."""
    verdict = accel.cached()
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command_line(),
        "harness": git_commit(),
        "host": facts.describe(),
        "accelerator_verdict": verdict.to_json() if verdict else None,
        "versions": versions(platforms),
        "images": images(manifest, engine, user_images, user_engines),
        "storage": storage(),
    }
