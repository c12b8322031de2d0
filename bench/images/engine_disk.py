"""vm-docker's disk: a container host for the VM, holding the image its container runs, ready to
run: the SAME image (same id) as the host's docker platform, or a user's image.

Built in two cached steps, each from what the host already has:
  1. the engine's tree: mmdebstrap of Debian minbase with docker.io, iptables, kmod and the VM
     kernel's own modules package (linux-image-<release>), cached under engine-tree/<key>/ by
     the kernel release and the packages, and shared by every image's disk;
  2. per image, a copy of that tree with the harness's engine-start script (and, for a user's
     image, the harness's directory, which the container gets as a read-only bind mount, as on
     the host); the image loaded by a temporary dockerd whose data root is the copy's
     /var/lib/docker (`docker load` keeps the image id), then stopped; it runs in a network
     namespace of its own, apart from the host's interfaces; the copy as an ext4 image,
     converted to a qcow2 base (vmdisk.build_base). Cached under engine/<key>/ by the image's
     id (a user's image: its cache entry), the tree's key and the start script.

Made before the first run (or `bench launch`) that needs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker

from bench import config
from bench.errors import BenchError
from bench.host import engines, files, killpoints
from bench.host.proc import run, unmount_under
from bench.images import rootfs, store, vmdisk
from bench.images.initramfs import guest_script
from bench.images.manifest import Manifest
from bench.images.user_image import UserImage
from bench.progress import Progress

ARTIFACT = "vm_docker_disk"  # its name in a run's images and the registry
ENGINE_PACKAGES = ("docker.io", "iptables", "kmod")
IMAGE_FILE = f"{config.GUEST_LIB}/engine-image"  # which image engine-start runs
START_SCRIPT = f"{config.GUEST_LIB}/engine-start"
DOCKERD_WAIT_S = 60


def tree_inputs(kernel_release: str, arch: str) -> dict:
    return {"kernel_release": kernel_release, "arch": arch, "suite": rootfs.SUITE,
            "packages": sorted(ENGINE_PACKAGES), "recipe": 2}


def inputs(image_id: str, kernel_release: str, arch: str, harness: str = "") -> dict:
    """A disk's key: the image, the tree it is copied from, the start script and, for a user's
    image, its cache entry (the harness's programs and the workloads' specs)."""
    return {"image": image_id, "tree": tree_inputs(kernel_release, arch), "harness": harness,
            "script": guest_script("engine-start.sh"), "recipe": 2}


def bootstrap(tree: Path, kernel_release: str, work: Path) -> None:
    include = [*ENGINE_PACKAGES, f"linux-image-{kernel_release}"]
    cmd = ["mmdebstrap", f"--variant={rootfs.VARIANT}", "--mode=root", "--format=directory",
           f"--include={','.join(include)}",
           '--customize-hook=rm -f "$1"/etc/resolv.conf', '--customize-hook=echo vmct-bench-engine > "$1"/etc/hostname',
           rootfs.SUITE, str(tree)]
    run(cmd, "vm-docker disk: mmdebstrap", env=dict(os.environ, TMPDIR=str(work), SOURCE_DATE_EPOCH=rootfs.SOURCE_DATE_EPOCH))


def ensure_tree(kernel_release: str, arch: str, progress: Progress) -> Path:
    """The engine's Debian tree (no image loaded yet): from the cache, or bootstrapped now."""
    final = store.entry("engine-tree", store.digest(tree_inputs(kernel_release, arch)))
    if not (final / "tree").is_dir():
        with store.building(final) as tmp, progress.step("vm-docker: Debian with docker.io (mmdebstrap)"):
            bootstrap(tmp / "tree", kernel_release, tmp)
    return final / "tree"


def add_harness_files(tree: Path, image_ref: str, harness: Path | None) -> None:
    """The start script, the image it runs and, for a user's image, the harness's directory."""
    script, image = tree / START_SCRIPT.lstrip("/"), tree / IMAGE_FILE.lstrip("/")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(guest_script("engine-start.sh"))
    os.chmod(script, 0o755)
    image.write_text(image_ref + "\n")
    if harness is not None:
        shutil.copytree(harness, tree / config.IMAGE_HARNESS_DIR.lstrip("/"), symlinks=True)


def save(client: docker.DockerClient, image_id: str, out: Path) -> None:
    with out.open("wb") as f:
        for chunk in client.images.get(image_id).save(named=True):
            f.write(chunk)


def preload(archive: Path, image_id: str, tree: Path, work: Path) -> None:
    """Load the image `docker save` wrote to `archive` into the tree's /var/lib/docker with a
    dockerd of our own."""
    # Its sockets (dockerd's, containerd's) in a short directory of their own: a Unix socket's
    # path may not be longer than 107 bytes, and the build directory's is.
    short = Path("/run") / f"{files.TMP_PREFIX}dockerd.{os.getpid()}"
    shutil.rmtree(short, ignore_errors=True)
    short.mkdir(mode=0o700)
    socket = short / "docker.sock"
    # In a network namespace of its own: a dockerd with the bridge disabled deletes any
    # interface named docker0 where it starts, and in the host's namespace that is the host
    # engine's default bridge. It needs no network to load an image.
    argv = ["unshare", "--net", "--", "dockerd", "--data-root", str(tree / "var/lib/docker"),
            "--exec-root", str(short / "exec"), "--pidfile", str(work / "dockerd.pid"), "-H", f"unix://{socket}",
            "--bridge=none", "--iptables=false", "--ip-masq=false", "--storage-driver=overlay2",
            f"--containerd-namespace={config.NAME_PREFIX}preload",
            f"--containerd-plugins-namespace={config.NAME_PREFIX}preload-plugins"]
    with (work / "dockerd.log").open("wb") as log:
        daemon = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        own = _await(socket, daemon, work / "dockerd.log")
        killpoints.reach("build", "engine_preload")
        with archive.open("rb") as f:
            loaded = own.images.load(f)  # streamed, not read into memory
        if not any(i.id == image_id for i in loaded):
            raise BenchError(f"vm-docker disk: docker load gave {[i.id for i in loaded]}, not {image_id}")
        own.close()
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
        shutil.rmtree(short, ignore_errors=True)


def _await(socket: Path, daemon: subprocess.Popen, log: Path) -> docker.DockerClient:
    """A client of the preloading dockerd, once it answers."""
    deadline = time.monotonic() + DOCKERD_WAIT_S
    while True:
        if socket.exists():
            try:
                client = docker.DockerClient(base_url=f"unix://{socket}", timeout=300)
                client.ping()
                return client
            except engines.docker_failures():
                pass  # listening, not answering yet
        if daemon.poll() is not None or time.monotonic() > deadline:
            said = log.read_text(errors="replace").strip().splitlines()
            raise BenchError(f"vm-docker disk: the preloading dockerd did not start: {said[-1] if said else 'no message'}")
        time.sleep(0.1)


@dataclass(frozen=True)
class EngineDisk:
    path: Path  # the qcow2 base
    sha256: str
    bytes: int  # allocated on the host
    build_seconds: float


def ensure(client: docker.DockerClient, manifest: Manifest, progress: Progress) -> EngineDisk:
    """The disk for this manifest's container image and kernel: from the cache, or built now."""
    image = manifest.container_image

    def saved(work: Path) -> Path:
        save(client, image.sha256, work / "image.tar")
        return work / "image.tar"

    return _ensure(inputs(image.sha256, manifest.kernel_release, manifest.arch), manifest, image.sha256,
                   image.path, saved, None, progress)


def ensure_for_user_image(built: UserImage, manifest: Manifest, progress: Progress) -> EngineDisk:
    """The disk for a user's image (loaded from the archive its cache entry keeps, run by id)."""
    key = inputs(built.id, manifest.kernel_release, manifest.arch, harness=Path(built.directory).name)
    return _ensure(key, manifest, built.id, built.id, lambda _work: built.archive, built.harness_dir, progress)


def _ensure(key: dict, manifest: Manifest, image_id: str, image_ref: str, archive: Callable[[Path], Path],
            harness: Path | None, progress: Progress) -> EngineDisk:
    final = store.entry("engine", store.digest(key))
    info_file = final / "engine.json"
    if not info_file.is_file():
        source = ensure_tree(manifest.kernel_release, manifest.arch, progress)
        began = time.monotonic()
        with store.building(final) as tmp, progress.step(f"vm-docker disk: {image_ref} preloaded"):
            work = tmp / "work"
            work.mkdir()
            tree = work / "engine"
            run(["cp", "-a", "--reflink=auto", source, tree], "vm-docker disk: copying the engine's tree")
            add_harness_files(tree, image_ref, harness)
            preload(archive(work), image_id, tree, work)
            vmdisk.build_base(tree, tmp / "disk.qcow2", work, identity=final.name)
            shutil.rmtree(work)
            files.write_json(tmp / "engine.json", {"sha256": store.sha256_file(tmp / "disk.qcow2"),
                                                   "build_seconds": round(time.monotonic() - began, 3)})
    info = json.loads(info_file.read_text())
    disk = final / "disk.qcow2"
    return EngineDisk(disk, info["sha256"], vmdisk.allocated_bytes(disk), info["build_seconds"])


def reap(build_dir: Path) -> None:
    """Stop a preloading dockerd (and its containerd) that a killed build left running, and
    detach what it had mounted in the build directory: killed, it does not unmount its data
    root's bind mount onto itself, and the tree cannot be removed under it."""
    for pidfile in build_dir.glob("work/dockerd.pid"):
        try:
            os.killpg(int(pidfile.read_text().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass  # gone already
    unmount_under(build_dir)
