"""The VM's kernel and initramfs: Debian's cloud kernel (`apt-get download`) plus the
harness's own initramfs, or a kernel and initramfs the user supplies.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.host import files
from bench.host.proc import run
from bench.images import initramfs, store
from bench.progress import Progress

META_PACKAGE = "linux-image-cloud-amd64"
# What the images are built for: the kernel package, QEMU's x86_64 machines and the exposure
# probe's system-call table are all amd64's.
ARCH = "amd64"
RECIPE = 1  # bump when how the boot files are made changes
BOOT_JSON = "boot.json"


@dataclass(frozen=True)
class BootFiles:
    kernel: Path
    initramfs: Path
    source: str  # where the kernel came from, for provenance
    release: str  # the kernel's `uname -r`, or "unknown" for a user-supplied kernel
    modules: tuple[str, ...]  # what the initramfs loads, in order

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.update(kernel=str(self.kernel), initramfs=str(self.initramfs), modules=list(self.modules))
        return data

    @classmethod
    def load(cls, directory: Path) -> BootFiles:
        data = json.loads((directory / BOOT_JSON).read_text())
        return cls(directory / "vmlinuz", directory / "initramfs.img", data["source"],
                   data["release"], tuple(data["modules"]))


def debian_kernel_package() -> tuple[str, str]:
    """The versioned package the cloud kernel meta package depends on, and its version."""
    step = f"kernel: looking up {META_PACKAGE}"
    info = run(["apt-cache", "show", "--no-all-versions", META_PACKAGE], step)
    match = re.search(r"^Depends:.*?(linux-image-[^\s,(]+)\s*\(=\s*([^)\s]+)\)", info, re.MULTILINE)
    if not match:
        raise BenchError(f"{step}: no versioned kernel dependency found; pass --kernel and --initramfs")
    return match.group(1), match.group(2)


def host_arch() -> str:
    return run(["dpkg", "--print-architecture"], "images: host architecture").strip()


def require_arch(arch: str) -> None:
    """One line when the host is not what the images are built for."""
    if arch != ARCH:
        raise BenchError(f"this host is {arch}: the harness builds {ARCH} images only (the {META_PACKAGE} kernel, "
                         "QEMU's x86_64 machines, the exposure probe's system-call table)")


def static_busybox() -> Path:
    try:
        listing = run(["dpkg-query", "-L", "busybox-static"], "initramfs: locating busybox-static")
    except BenchError:
        raise BenchError("initramfs: busybox-static is not installed (`make run` installs it)") from None
    for line in listing.splitlines():
        if line.endswith("/bin/busybox") and Path(line).is_file():
            return Path(line)
    raise BenchError("initramfs: busybox-static ships no /bin/busybox on this host")


def ensure(progress: Progress, user_kernel: Path | None = None,
           user_initramfs: Path | None = None) -> BootFiles:
    if (user_kernel is None) != (user_initramfs is None):
        raise BenchError("--kernel and --initramfs go together (the initramfs must match the kernel)")
    if user_kernel is not None and user_initramfs is not None:
        return _ensure_user(user_kernel, user_initramfs)
    package, version = debian_kernel_package()
    busybox = static_busybox()
    key = store.digest({
        "recipe": RECIPE, "package": package, "version": version,
        "init": store.digest(initramfs.guest_script("init.sh")),
        "busybox": store.sha256_file(busybox), "modules": [*initramfs.VIRTIO_BLK_ROOT, *initramfs.VIRTIO_NET],
    })
    final = store.entry("kernel", key)
    if (final / BOOT_JSON).is_file():
        return BootFiles.load(final)
    with progress.step(f"kernel: {package} {version} and initramfs"), store.building(final) as tmp:
        work = tmp / "work"
        work.mkdir()
        run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", f"{package}={version}"],
            f"kernel: apt-get download {package}", cwd=work)
        deb = next(work.glob("*.deb"))
        unpacked = work / "pkg"
        run(["dpkg-deb", "-x", deb, unpacked], f"kernel: unpacking {deb.name}")
        vmlinuz = next((unpacked / "boot").glob("vmlinuz-*"), None)
        if vmlinuz is None:
            raise BenchError(f"kernel: {deb.name} holds no /boot/vmlinuz-*")
        release = vmlinuz.name.removeprefix("vmlinuz-")
        modules_base = unpacked / "usr" if (unpacked / "usr/lib/modules").is_dir() else unpacked
        run(["depmod", "-b", modules_base, release], "kernel: depmod")
        modules = initramfs.build(tmp / "initramfs.img", modules_base / "lib/modules" / release,
                                  busybox, work)
        shutil.copyfile(vmlinuz, tmp / "vmlinuz")
        shutil.rmtree(work)
        boot = BootFiles(final / "vmlinuz", final / "initramfs.img",
                         f"debian {package} {version}", release, tuple(modules))
        files.write_json(tmp / BOOT_JSON, boot.to_json())
    return boot


def _ensure_user(kernel: Path, initrd: Path) -> BootFiles:
    for path in (kernel, initrd):
        if not path.is_file():
            raise BenchError(f"{path}: no such file")
    key = store.digest({"user": [store.sha256_file(kernel), store.sha256_file(initrd)]})
    final = store.entry("kernel", key)
    if not (final / BOOT_JSON).is_file():
        with store.building(final) as tmp:
            shutil.copyfile(kernel, tmp / "vmlinuz")
            shutil.copyfile(initrd, tmp / "initramfs.img")
            boot = BootFiles(final / "vmlinuz", final / "initramfs.img",
                             f"user-supplied {kernel}", "unknown", ())
            files.write_json(tmp / BOOT_JSON, boot.to_json())
    return BootFiles.load(final)
