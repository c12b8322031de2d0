"""vm-docker's disk: a container host for the VM, holding the SAME container image as the
host's docker platform (same image id), ready to run.

Built in three steps, each from what the host already has:
  1. mmdebstrap of Debian minbase with docker.io, iptables, kmod and the VM kernel's own
     modules package (linux-image-<release>), plus the harness's engine-start script;
  2. the host's container image, `docker save`d and loaded by a temporary dockerd whose data
     root is the new tree's /var/lib/docker (`docker load` keeps the image id), then stopped;
     it runs in a network namespace of its own, apart from the host's interfaces;
  3. the tree as an ext4 image, converted to a qcow2 base (vmdisk.build_base).

Made before the first run (or `bench launch`) that needs it, cached under engine/<key>/ by
its inputs: the container image's id, the kernel release, the packages, the start script.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
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
from bench.progress import Progress

ARTIFACT = "vm_docker_disk"  # its name in a run's images and the registry
ENGINE_PACKAGES = ("docker.io", "iptables", "kmod")
IMAGE_FILE = f"{config.GUEST_LIB}/engine-image"  # which image engine-start runs
START_SCRIPT = f"{config.GUEST_LIB}/engine-start"
DOCKERD_WAIT_S = 60


def inputs(image_id: str, kernel_release: str, arch: str) -> dict:
    return {"image": image_id, "kernel_release": kernel_release, "arch": arch, "suite": rootfs.SUITE,
            "packages": sorted(ENGINE_PACKAGES), "script": guest_script("engine-start.sh"), "recipe": 1}


def bootstrap(tree: Path, kernel_release: str, image_ref: str, work: Path) -> None:
    stage = work / "engine-files"
    script, image = stage / START_SCRIPT.lstrip("/"), stage / IMAGE_FILE.lstrip("/")
    script.parent.mkdir(parents=True)
    script.write_text(guest_script("engine-start.sh"))
    os.chmod(script, 0o755)
    image.write_text(image_ref + "\n")
    include = [*ENGINE_PACKAGES, f"linux-image-{kernel_release}"]
    cmd = ["mmdebstrap", f"--variant={rootfs.VARIANT}", "--mode=root", "--format=directory",
           f"--include={','.join(include)}", f"--customize-hook=sync-in {shlex.quote(str(stage))} /",
           '--customize-hook=rm -f "$1"/etc/resolv.conf', '--customize-hook=echo vmct-bench-engine > "$1"/etc/hostname',
           rootfs.SUITE, str(tree)]
    run(cmd, "vm-docker disk: mmdebstrap", env=dict(os.environ, TMPDIR=str(work), SOURCE_DATE_EPOCH=rootfs.SOURCE_DATE_EPOCH))


def preload(client: docker.DockerClient, image_id: str, tree: Path, work: Path) -> None:
    """Load the host's image into the tree's /var/lib/docker with a dockerd of our own."""
    saved = work / "image.tar"
    with saved.open("wb") as out:
        for chunk in client.images.get(image_id).save(named=True):
            out.write(chunk)
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
        with saved.open("rb") as f:
            loaded = own.images.load(f)  # streamed, not read into memory
        if not any(i.id == image_id for i in loaded):
            raise BenchError(f"vm-docker disk: docker load gave {[i.id for i in loaded]}, not {image_id}")
        own.close()
    finally:
        saved.unlink(missing_ok=True)
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
    final = store.entry("engine", store.digest(inputs(image.sha256, manifest.kernel_release, manifest.arch)))
    info_file = final / "engine.json"
    if not info_file.is_file():
        began = time.monotonic()
        with store.building(final) as tmp, \
                progress.step(f"vm-docker disk: Debian with docker.io and {image.path} preloaded"):
            work = tmp / "work"
            work.mkdir()
            tree = work / "engine"
            bootstrap(tree, manifest.kernel_release, image.path, work)
            preload(client, image.sha256, tree, work)
            vmdisk.build_base(tree, tmp / "disk.qcow2", work)
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
