"""The isolation probe reads what /proc shows, on a fake /proc and on this process."""

from __future__ import annotations

import os
from pathlib import Path

from bench.probes import isolation

STATUS = """Name:\tsleep
Uid:\t0\t0\t0\t0
CapEff:\t00000000a80425fb
NoNewPrivs:\t1
Seccomp:\t2
"""


def fake_proc(root: Path, pid: int, own: set[str]) -> Path:
    (root / "sys/kernel").mkdir(parents=True)
    (root / "sys/kernel/cap_last_cap").write_text("40\n")
    (root / str(pid) / "ns").mkdir(parents=True)
    (root / str(pid) / "status").write_text(STATUS)
    (root / "self" / "ns").mkdir(parents=True)
    for kind in isolation.NAMESPACES:
        (root / "self/ns" / kind).symlink_to(f"{kind}:[1]")
        (root / str(pid) / "ns" / kind).symlink_to(f"{kind}:[{2 if kind in own else 1}]")
    return root


def test_a_container_like_process(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, 42, {"mnt", "pid", "net", "uts", "ipc"})
    facts = isolation.observe(42, proc)
    assert facts == {
        "isolation.process": "sleep",
        "isolation.namespaces": "mnt pid net uts ipc",
        "isolation.user": "0 (root)",
        "isolation.capabilities": "14 of 41",  # Docker's default set
        "isolation.seccomp": "filter",
        "isolation.no_new_privs": "yes",
    }


def test_a_process_that_is_gone_gives_nothing(tmp_path: Path) -> None:
    assert isolation.observe(99, tmp_path) == {}


def test_this_process_shares_everything_with_itself() -> None:
    facts = isolation.observe(os.getpid())
    assert facts["isolation.namespaces"] == "none (shares the host's)"
    assert facts["isolation.process"]
