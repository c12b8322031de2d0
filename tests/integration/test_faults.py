"""Faults a run meets on real hosts, for real: the disk under its run directory fills up, and
the Docker engine dies in the middle of a trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.host import engines
from bench.host.files import TMP_PREFIX
from bench.operations import cleanup
from bench.run.runner import current_records
from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench, restart_dockerd

NATIVE = """\
name = "disk-full"
platforms = ["native"]
workloads = ["boot"]
repetitions = 8
warmup = 0
seed = 9
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 8 pages: run.json (about 6 KiB, twice while it is rewritten) and a few trial
    lines (about 5 KiB each) fit, eight trials do not."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k,mode=0755", "vmctb-test-small", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_stops_the_run_in_one_line_and_resume_completes_it(small_disk: Path, images: dict) -> None:
    suite = write_suite(small_disk.parent, text=NATIVE)
    proc = bench("run", str(suite), "--output-dir", str(small_disk / "runs"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("bench: error: ")]
    assert errors == [proc.stderr.splitlines()[-1]] and "Traceback" not in proc.stderr, proc.stderr
    # The write that failed first is named, not one of those after it.
    assert errors[0].startswith("bench: error: appending to ") and "trials.jsonl: disk full" in errors[0], errors
    run = RunDir.open(only_run_dir(small_disk / "runs"))
    # What was recorded before is whole: run.json parses, every complete line is a trial; no
    # temp file is left, and a summary or report written at all is complete.
    info = json.loads((run.path / "run.json").read_text())
    assert len(info["plan"]) == 8
    recorded = run.records()
    assert 1 <= len(recorded) < 8 and all(r.ok for r in recorded), [r.summary() for r in recorded]
    assert not list(run.path.glob(f"{TMP_PREFIX}*"))
    if (run.path / "index.html").exists():
        assert (run.path / "index.html").read_text().rstrip().endswith("</html>")
    # Space comes back; the run goes on from where it stopped.
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    resumed = bench("run", "--resume", str(run.path))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ok = Counter(r.seq for r in run.records() if r.ok)
    assert sorted(ok) == list(range(1, 9)) and set(ok.values()) == {1}, ok
    assert (run.path / "index.html").read_text().rstrip().endswith("</html>")


DOCKER_AND_NATIVE = """\
name = "dead-engine"
platforms = ["docker", "native"]
workloads = ["idle", "boot"]
repetitions = 2
warmup = 0
seed = 4

[only]
docker = ["idle", "boot"]
native = ["boot"]
"""


def test_a_dead_docker_engine_fails_its_trials_in_one_line_and_the_run_goes_on(tmp_path: Path, images: dict) -> None:
    client = engines.docker_client()
    first_start = not client.networks.get("bridge").attrs["IPAM"]["Config"][0].get("Gateway")
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(write_suite(tmp_path, text=DOCKER_AND_NATIVE)),
                             "--output-dir", str(tmp_path / "runs"), "--no-report"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = False
    try:
        deadline = time.monotonic() + 180
        # `idle` keeps its container up for 10 s: the engine dies under a trial in flight.
        while proc.poll() is None and time.monotonic() < deadline:
            if [c for c in cleanup.leftover_containers(client) if c.name.endswith("-docker") and c.status == "running"]:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before a docker trial was seen"
        os.kill(int(Path("/var/run/docker.pid").read_text()), signal.SIGKILL)
        killed = True
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        if killed:
            restart_dockerd(first_start)
    assert proc.returncode == 1, err[-3000:]
    assert "Traceback" not in err
    records = current_records(RunDir.open(only_run_dir(tmp_path / "runs")).records())
    failed = [r for r in records if not r.ok]
    assert failed and all(r.platform == "docker" for r in failed), [r.summary() for r in records]
    assert all(r.reason and "\n" not in r.reason for r in failed), [r.reason for r in failed]
    assert all(r.ok for r in records if r.platform == "native") and len(records) == 6
    assert f"{len(failed)} of 6 trials did not succeed" in out
    # With the engine back, `bench clean` removes what the dead one still held.
    leftover = cleanup.leftovers()
    cleaned = bench("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert all(f"removed {thing}" in cleaned.stdout for thing in leftover), (leftover, cleaned.stdout)
    assert cleanup.leftovers() == []
