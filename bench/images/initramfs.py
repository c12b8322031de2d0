"""The harness's minimal initramfs: busybox-static, the modules a virtio-blk ext4 root needs
(resolved from modules.dep, dependencies first), those of a virtio-net NIC (loaded only when
the kernel command line asks for a network) and an init that switch_roots into the launcher.
"""

from __future__ import annotations

import lzma
import os
import shutil
from importlib import resources
from pathlib import Path

from bench.errors import BenchError
from bench.host.proc import run

# A virtio-blk root needs a transport (PCI on the PC machines, MMIO on microvm) and the block
# driver; ext4 for the file system. Anything the kernel has built in (modules.builtin) is skipped.
VIRTIO_BLK_ROOT = ("virtio_pci", "virtio_mmio", "virtio_blk", "ext4")
VIRTIO_NET = ("virtio_net",)
FIXED_MTIME = 0  # identical inputs give a byte-identical initramfs


def module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base.split(".ko", 1)[0].replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, tuple[str, list[str]]]:
    """modules.dep → {module name: (its path, the paths it depends on)}."""
    table: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        path, _, deps = line.partition(":")
        table[module_name(path.strip())] = (path.strip(), deps.split())
    return table


def load_order(wanted: tuple[str, ...] | list[str], modules_dep: str, builtin: str) -> list[str]:
    """Paths of the modules to insmod for `wanted`, every dependency before its users."""
    table = parse_modules_dep(modules_dep)
    builtins = {module_name(line.strip()) for line in builtin.splitlines() if line.strip()}
    order: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in builtins or name in done:
            return
        if name not in table:
            raise BenchError(f"initramfs: the kernel has no module {name!r} and does not build it in")
        if name in visiting:
            raise BenchError(f"initramfs: modules.dep has a dependency cycle through {name!r}")
        visiting.add(name)
        path, deps = table[name]
        for dep in deps:
            visit(module_name(dep))
        visiting.discard(name)
        done.add(name)
        order.append(path)

    for name in wanted:
        visit(name.replace("-", "_"))
    return order


def guest_script(name: str) -> str:
    return resources.files("bench.guest").joinpath(name).read_text()


def build(out: Path, module_dir: Path, busybox: Path, work: Path) -> list[str]:
    """Pack the initramfs into `out`; return the module load order it holds."""
    modules_dep, builtin = (module_dir / "modules.dep").read_text(), (module_dir / "modules.builtin").read_text()
    order = load_order(VIRTIO_BLK_ROOT, modules_dep, builtin)
    net_order = [p for p in load_order(VIRTIO_NET, modules_dep, builtin) if p not in order]
    root = work / "initramfs-root"
    for sub in ("bin", "dev", "etc", "lib/modules", "proc", "sys", "newroot"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, root / "bin/busybox")
    (root / "init").write_text(guest_script("init.sh"))
    os.chmod(root / "init", 0o755)
    for listing, paths in (("modules.order", order), ("modules.net", net_order)):
        flat = [_copy_module(module_dir, rel, root / "lib/modules") for rel in paths]
        (root / "etc" / listing).write_text("".join(f"{name}\n" for name in flat))
    # The kernel opens /dev/console for init before anything could create it.
    os.mknod(root / "dev/console", 0o600 | 0o020000, os.makedev(5, 1))
    for path in [root, *root.rglob("*")]:
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    members = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    run(["cpio", "--quiet", "-o", "-H", "newc", "--reproducible", "-R", "0:0"], "initramfs: cpio",
        cwd=root, input="\n".join(members).encode(), stdout_to=out)
    return [module_name(p) for p in order + net_order]


def _copy_module(module_dir: Path, rel: str, target_dir: Path) -> str:
    """Copy one module uncompressed (busybox insmod reads no xz); return its file name."""
    target = target_dir / (module_name(rel) + ".ko")
    data = (module_dir / rel).read_bytes()
    if rel.endswith(".ko.xz"):
        data = lzma.decompress(data)
    elif not rel.endswith(".ko"):
        raise BenchError(f"initramfs: {rel}: only plain and xz-compressed modules are supported")
    target.write_bytes(data)
    return target.name
