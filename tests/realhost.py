"""Helpers for tests that run the real `bench` command against the real Docker engine and
libvirt. They need root, a running dockerd and libvirtd (`make test` sets all of that up).
After each such test nothing the harness started may remain.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bench.config import PROJECT_ROOT
from bench.host import engines
from bench.net.network import RunNetwork
from bench.operations import cleanup
from tests import hoststate

def bench(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def short_workloads(root: Path, cuts: dict[str, tuple[tuple[str, str], ...]]) -> dict[str, str]:
    """The shipped workloads copied to `root`, with each named one's durations cut (`cuts`:
    workload, then (long, short) texts, each of which must occur), as `bench`'s environment.
    The images are the same: a test proves a platform runs the workload, not how long it runs."""
    shutil.copytree(PROJECT_ROOT / "workloads", root)
    for name, replacements in cuts.items():
        path = root / name / "workload.toml"
        text = path.read_text()
        for long, short in replacements:
            assert long in text, (name, long)
            text = text.replace(long, short)
        path.write_text(text)
    return {"BENCH_WORKLOADS_DIR": str(root)}


def with_stresses(root: Path, workload: str, stresses: list[str]) -> dict[str, str]:
    """short_workloads with an interference workload's stresses narrowed to these."""
    text = (PROJECT_ROOT / "workloads" / workload / "workload.toml").read_text()
    line = next(line for line in text.splitlines() if line.startswith("stresses = "))
    return short_workloads(root, {workload: ((line, f"stresses = {json.dumps(stresses)}"),)})


@pytest.fixture(scope="session")
def images() -> dict:
    """The image set for every shipped workload, built once (a no-op when cached)."""
    built = bench("images", "build")
    assert built.returncode == 0, built.stderr
    shown = bench("images", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def leftovers() -> list[str]:
    return cleanup.leftovers()


@pytest.fixture(scope="session")
def no_crashed_run_first() -> None:
    """What a crashed run left before the session (a cancelled CI job, say) is `bench clean`ed,
    so that every test's check below sees only what the tests themselves leave."""
    report, unreachable = cleanup.clean_all()
    assert unreachable == [], f"an engine the tests need is down: {unreachable}"
    removed = [line for line in report if line.startswith("removed")]
    if removed:
        print(f"\nbefore the tests, as `bench clean` would: {'; '.join(removed)}")


@pytest.fixture(autouse=True)
def nothing_left_behind(no_crashed_run_first: None) -> Iterator[None]:
    before = leftovers()
    assert before == [], f"leftovers before the test: {before}"
    yield
    after = leftovers()
    assert after == [], f"the harness left instances behind: {after}"


@pytest.fixture(scope="session")
def libvirt_firewall_primed() -> None:
    """libvirt adds its LIBVIRT_* chains, and the jumps to them, at the first network it starts
    after the host boots, and keeps them: libvirt's own once-per-boot state, not the harness's.
    One network started and destroyed here puts them in place before any module's snapshot."""
    conn = engines.libvirt_connection()
    try:
        RunNetwork.create(conn, "prime", "tests").destroy()
    finally:
        conn.close()


@pytest.fixture(scope="module", autouse=True)
def host_network_unchanged(request: pytest.FixtureRequest, libvirt_firewall_primed: None) -> Iterator[None]:
    """The host's links, addresses, routes, firewall rules and Docker, Podman and libvirt
    networks are as they were before the module, but for what the harness labels (and removes:
    the check above)."""
    before = hoststate.snapshot()
    yield
    changed = hoststate.differences(before, hoststate.snapshot())
    assert not changed, f"{request.module.__name__} changed the host's network state: " + "; ".join(changed)


DOCKERD_PID = Path("/var/run/docker.pid")


def restart_dockerd(first_start: bool) -> None:
    """Start dockerd again after a test killed it, with the set-up's own script (as a user
    would); in the state of its first start on a new host (no persisted network store, no
    docker0) when it was in that state before, so that later tests still see a fresh host."""
    pid = DOCKERD_PID.read_text().strip() if DOCKERD_PID.exists() else ""
    if pid.isdigit() and psutil.pid_exists(int(pid)):  # the killed one may take a moment to be gone
        gone, _ = psutil.wait_procs([psutil.Process(int(pid))], timeout=60)
        assert gone, f"dockerd {pid} is still there"
    if first_start:
        Path("/var/lib/docker/network/files/local-kv.db").unlink(missing_ok=True)
        subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)
    setup = subprocess.run(["sh", str(PROJECT_ROOT / "scripts/setup-host.sh")], capture_output=True, text=True,
                           timeout=600)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    assert "starting dockerd" in setup.stdout, setup.stdout


@functools.cache
def platform_status() -> dict[str, dict]:
    """`bench doctor`'s word on each platform: whether this host can run it, and why not."""
    shown = bench("doctor", "--json")
    return {p["name"]: p for p in json.loads(shown.stdout)["platforms"]}


def require_platforms(*names: str) -> None:
    """Skip the test, naming the platform and doctor's reason, where this host cannot run one
    of them (gVisor's ptrace platform on a kernel that refuses it, say); pytest's summary counts
    the skip. `make test` installs every platform, so on a host it set up nothing is skipped."""
    status = platform_status()
    for name in names:
        known = status.get(name)
        assert known is not None, f"bench doctor does not list platform {name}"
        if not known["ok"]:
            pytest.skip(f"platform {name} cannot run on this host: {known['detail']}"
                        + (f" (fix: {known['fix']})" if known["fix"] else ""))


SHARED_SUITE = """\
name = "it-history"
platforms = ["native", "docker"]
workloads = ["boot", "hello"]
repetitions = 2
warmup = 0
seed = 5
"""


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory: pytest.TempPathFactory, images: dict) -> list[Path]:
    """Two real runs of a small suite (native and docker), one after the other, made once for
    every test module that only reads run directories (history, provenance)."""
    root = tmp_path_factory.mktemp("shared-runs")
    suite = root / "suite.toml"
    suite.write_text(SHARED_SUITE)
    for _ in range(2):
        proc = bench("run", str(suite), "--output-dir", str(root / "runs"))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return sorted((root / "runs").iterdir())
