from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.images.initramfs import VIRTIO_BLK_ROOT, VIRTIO_NET, load_order, module_name

# As in Debian's 6.1 cloud kernel (depmod output), trimmed.
MODULES_DEP = """\
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
"""
BUILTIN = "kernel/fs/ext4/ext4.ko\nkernel/drivers/tty/serial/8250/8250.ko\n"


def names(paths: list[str]) -> list[str]:
    return [module_name(p) for p in paths]


def test_virtio_blk_root_loads_dependencies_first() -> None:
    order = names(load_order(VIRTIO_BLK_ROOT, MODULES_DEP, BUILTIN))
    assert sorted(order) == sorted(["virtio_ring", "virtio", "virtio_pci_modern_dev",
                                    "virtio_pci_legacy_dev", "virtio_pci", "virtio_mmio", "virtio_blk"])
    assert order.index("virtio_ring") < order.index("virtio")
    for dep in ("virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev"):
        assert order.index(dep) < order.index("virtio_pci")
    assert order.index("virtio") < order.index("virtio_mmio")  # microvm's transport
    assert order.index("virtio") < order.index("virtio_blk")
    assert "ext4" not in order  # built in


def test_every_module_comes_after_all_of_its_dependencies() -> None:
    order = load_order(["virtio_net", "virtio_blk"], MODULES_DEP, BUILTIN)
    deps = {line.split(":")[0]: line.split(":")[1].split() for line in MODULES_DEP.splitlines()}
    for position, path in enumerate(order):
        for dep in deps[path]:
            assert order.index(dep) < position, f"{dep} must load before {path}"
    assert len(order) == len(set(order))


def test_exactly_the_needed_modules_nothing_else() -> None:
    order = names(load_order(["virtio_blk"], MODULES_DEP, BUILTIN))
    assert order == ["virtio_ring", "virtio", "virtio_blk"]


def test_dashes_and_compressed_names() -> None:
    dep = "kernel/a/foo-bar.ko.xz: kernel/a/base.ko.xz\nkernel/a/base.ko.xz:\n"
    assert names(load_order(["foo-bar"], dep, "")) == ["base", "foo_bar"]


def test_unknown_module_is_an_error() -> None:
    with pytest.raises(BenchError, match="no module 'virtio_scsi'"):
        load_order(["virtio_scsi"], MODULES_DEP, BUILTIN)


def test_dependency_cycle_is_an_error() -> None:
    with pytest.raises(BenchError, match="cycle"):
        load_order(["a"], "k/a.ko: k/b.ko\nk/b.ko: k/a.ko\n", "")


def test_virtio_net_needs_failover_first_and_shares_the_transport() -> None:
    blk = load_order(VIRTIO_BLK_ROOT, MODULES_DEP, BUILTIN)
    net = [p for p in load_order(VIRTIO_NET, MODULES_DEP, BUILTIN) if p not in blk]
    # virtio and virtio_ring are loaded already for the disk; failover before net_failover.
    assert names(net) == ["failover", "net_failover", "virtio_net"]
