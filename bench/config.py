"""Where things live, and the names and labels that mark what the harness creates."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# QEMU runs as libvirt-qemu under qemu:///system: the cache must be world-traversable,
# which rules out anything under /root.
DEFAULT_CACHE_DIR = Path("/var/cache/vmct-bench")
LIBVIRT_URI = "qemu:///system"

# Everything the harness creates carries this label (containers, images) or prefix
# (domains, overlays, temp files), so `bench clean` can find what a crashed run left.
LABEL = "vmct-bench"
RUN_LABEL = f"{LABEL}.run"
NAME_PREFIX = "vmctb-"

# Inside the root filesystem: the same paths on all three platforms.
GUEST_LIB = "/usr/local/lib/bench"
GUEST_LAUNCHER = f"{GUEST_LIB}/launcher"
GUEST_USER = "bench"
GUEST_UID = 990
# In a user's image: the harness's one directory (launcher, tree probe, workload specs).
IMAGE_HARNESS_DIR = "/.vmct-bench"


def cache_dir() -> Path:
    return Path(os.environ.get("BENCH_CACHE_DIR", DEFAULT_CACHE_DIR))


def workloads_dir() -> Path:
    return Path(os.environ.get("BENCH_WORKLOADS_DIR", PROJECT_ROOT / "workloads"))
