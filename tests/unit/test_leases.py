"""A live run's instances are not leftovers: `bench clean` spares them and a new run waits."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import config
from bench.errors import BenchError
from bench.host import engines, leases
from bench.operations import cleanup

HOLDER = """
import sys
from bench.host import leases
with leases.held(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


class EmptyEngine:
    """A Docker engine and a libvirt connection that hold nothing at all."""
    containers = volumes = SimpleNamespace(list=lambda **_: [])

    def listAllDomains(self) -> list:  # noqa: N802 (libvirt's name)
        return []

    def listAllNetworks(self) -> list:  # noqa: N802
        return []


def unreachable(*_args: object, **_kwargs: object) -> None:
    raise BenchError("docker: engine not reachable (test)")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of our own and engines that hold nothing, so only files count."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(engines, "docker_client", lambda **_: EmptyEngine())
    monkeypatch.setattr(engines, "libvirt_connection", lambda: EmptyEngine())
    monkeypatch.setattr(cleanup.cgroup, "leftovers", lambda: [])
    monkeypatch.setattr(cleanup.podman, "leftover_containers", lambda: [])
    monkeypatch.setattr(cleanup.podman_network, "leftover_networks", lambda: [])
    (tmp_path / "instances").mkdir()
    return tmp_path


def holder(run_id: str) -> subprocess.Popen[str]:
    """Another process that holds run_id's lease until its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, run_id], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def overlay(cache: Path, run_id: str) -> Path:
    path = cache / "instances" / f"{config.NAME_PREFIX}{run_id}-3-vm.qcow2"
    path.write_bytes(b"")
    return path


def test_a_lease_is_live_while_its_process_holds_it(cache: Path) -> None:
    proc = holder("20261126-101010-abcd")
    try:
        assert leases.live_runs() == [leases.LiveRun("20261126-101010-abcd", proc.pid)]
    finally:
        proc.communicate("")
    assert leases.live_runs() == []
    assert list((cache / "leases").iterdir()) == []


def test_a_killed_runs_lease_is_dead_and_its_file_goes(cache: Path) -> None:
    proc = holder("20261126-101010-dead")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (cache / "leases" / "20261126-101010-dead.lock").exists()  # nothing ran its finally
    assert leases.live_runs() == []
    assert not (cache / "leases" / "20261126-101010-dead.lock").exists()


def test_clean_spares_a_live_run_and_removes_a_dead_ones(cache: Path) -> None:
    live_overlay, dead_overlay = overlay(cache, "20261126-101010-1111"), overlay(cache, "20261126-101010-2222")
    proc = holder("20261126-101010-1111")
    try:
        assert cleanup.leftovers() == [f"file {dead_overlay}"]
        assert cleanup.in_progress() == [f"run 20261126-101010-1111 (pid {proc.pid})"]
        report, _ = cleanup.clean_all()
        assert f"removed file {dead_overlay}" in report
        assert f"spared run 20261126-101010-1111 (pid {proc.pid}): it is still running" in report
        assert live_overlay.exists() and not dead_overlay.exists()
    finally:
        proc.communicate("")
    assert cleanup.leftovers() == [f"file {live_overlay}"]  # its owner is gone now


def test_a_run_id_owns_only_its_own_names() -> None:
    run = leases.LiveRun("20261126-101010-1", 1)
    assert run.owns(f"{config.NAME_PREFIX}20261126-101010-1-4-docker")
    assert not run.owns(f"{config.NAME_PREFIX}20261126-101010-12-4-docker")  # a longer id
    assert not run.owns("20261126-101010-1-4-docker")


def test_a_new_run_waits_for_a_live_one(cache: Path) -> None:
    from bench.run import runner

    proc = holder("20261126-101010-3333")
    try:
        with pytest.raises(BenchError, match=r"another run is in progress on this host "
                                             r"\(run 20261126-101010-3333 \(pid \d+\)\)"):
            runner.refuse_leftovers()
    finally:
        proc.communicate("")
    runner.refuse_leftovers()  # nothing live, nothing left


def test_an_engine_out_of_reach_is_an_error_not_nothing_found(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli.main import main

    dead_overlay = overlay(cache, "20261126-101010-4444")
    monkeypatch.setattr(engines, "docker_client", unreachable)
    with pytest.raises(BenchError, match=r"^cannot look for leftovers: containers and volumes not looked at: "
                                         r"docker: engine not reachable \(test\)$"):
        cleanup.leftovers()
    # A run deciding whether it may start sees what it can: the engine that is down runs nothing.
    assert cleanup.leftovers(require_engines=False) == [f"file {dead_overlay}"]
    # `bench clean` removes what it can reach, then fails in one line for what it could not look at.
    assert main(["clean"]) == 1
    out, err = capsys.readouterr()
    assert f"removed file {dead_overlay}" in out and "clean: 1 leftover(s) removed" in out
    assert err == "bench: error: clean: containers and volumes not looked at: docker: engine not reachable (test)\n"
    assert not dead_overlay.exists()
