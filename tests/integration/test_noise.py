"""Host noise on real instances and on this host's real knobs.

A native and a Docker cpu run in which this test pins a busy loop to the instance's CPU for
chosen trials (it starts when the run announces the trial and stops when the run says it is
done): exactly those trials are `disturbed`, the quiet ones are not; under [precision] they are
set aside and the rule runs more repetitions. `bench tune` then `--reset` put every knob back;
a run killed while the host is tuned is restored by `bench clean`.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.host import noise
from bench.host.noise import HostFiles
from bench.operations import tune
from bench.probes.disturbance import DISTURBED_PCT
from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir
from tests.realhost import bench

SUITE = """\
name = "it-noise"
platforms = ["native", "docker"]
workloads = ["cpu"]
repetitions = 3
warmup = 0
seed = 5
seconds = 2
"""
# Targets no 3 trials of cpu miss: only a set-aside trial makes the rule add one.
PRECISION = """
[precision]
max_repetitions = 5
throughput = 0.9
memory = 0.9
time = 0.9
"""
STARTED = re.compile(r"\s+\.\.\. \[(\d+)/\d+\] ")
ENDED = re.compile(r"\s+(?:done|failed|aborted) \[(\d+)/\d+\] ")


def instance_cpu() -> int:
    """The CPU a 1-CPU suite's instances get (model/resources.py: the last one)."""
    return sorted(os.sched_getaffinity(0))[-1]


def run_disturbed(suite: Path, output: Path, disturb: set[int]) -> tuple[int, str]:
    """`bench run` with a busy loop on the instance's CPU during the trials numbered `disturb`."""
    cpu = instance_cpu()
    run = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--output-dir", str(output), "--no-report"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    busy: subprocess.Popen[bytes] | None = None
    log = []
    try:
        assert run.stderr is not None
        for line in run.stderr:
            log.append(line)
            if (started := STARTED.match(line)) and int(started.group(1)) in disturb:
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
            elif ENDED.match(line) and busy is not None:
                busy.kill()
                busy.wait()
                busy = None
        return run.wait(timeout=600), "".join(log)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
        if run.poll() is None:
            run.kill()


def foreign(record) -> float:  # type: ignore[no-untyped-def]
    return float(next(s.value for s in record.samples if s.metric == "foreign_cpu_pct"))


def test_exactly_the_trials_a_busy_loop_met_are_disturbed(tmp_path: Path, images: dict) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    code, log = run_disturbed(suite, tmp_path / "runs", {2, 5})
    assert code == 0, log[-3000:]
    run = RunDir.open(only_run_dir(tmp_path / "runs"))
    records = run.records()
    assert {r.seq: r.disturbed for r in records} == {seq: seq in (2, 5) for seq in range(1, 7)}, \
        {r.seq: r.facts.get("disturbance") for r in records}
    for record in records:
        share = foreign(record)
        assert (share >= 25.0) if record.disturbed else (share < DISTURBED_PCT), (record.seq, record.facts["disturbance"])
        assert record.counted and not record.excluded  # no [precision]: kept, and listed
    with (run.path / "summary.csv").open() as f:
        counts = {row["platform"]: row["disturbed"] for row in csv.DictReader(f) if row["metric"] == "score"}
    assert counts == {p: str(sum(1 for r in records if r.disturbed and r.platform == p)) for p in ("native", "docker")}
    info = run.info()
    assert info.noise_floor is not None and info.noise_floor.cpus == str(instance_cpu())
    assert "noise floor: CV" in log
    report = bench("report", str(run.path), "--output", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "2 of 6 trials disturbed by other processes on their CPUs" in (tmp_path / "r.html").read_text()


def test_under_the_precision_rule_disturbed_trials_are_set_aside_and_repeated(tmp_path: Path, images: dict) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE + PRECISION)
    code, log = run_disturbed(suite, tmp_path / "runs", {1, 2})
    assert code == 0, log[-3000:]
    run = RunDir.open(only_run_dir(tmp_path / "runs"))
    records, plan = run.records(), run.info().plan
    set_aside = {r.seq for r in records if r.excluded}
    assert set_aside == {1, 2} and all(r.disturbed for r in records if r.seq in set_aside)
    added = [t for t in plan if t.added]
    assert sorted(t.platform for t in added) == sorted(r.platform for r in records if r.seq in set_aside)
    assert all("disturbed trial(s) set aside" in t.added for t in added), added
    assert {p: sum(1 for r in records if r.counted and r.platform == p) for p in ("native", "docker")} == \
        {"native": 3, "docker": 3}
    assert not any(r.disturbed for r in records if r.seq > 2), [(r.seq, r.facts["disturbance"]) for r in records]


def knobs() -> dict[str, object]:
    """Every value `bench tune` may change on this host, as the kernel reads it back."""
    files = HostFiles()
    found: dict[str, object] = {f"irq {n}": cpus for n, cpus in noise.irq_affinities(files).items()}
    for cpu in sorted(os.sched_getaffinity(0)):
        found[f"governor {cpu}"] = files.cpu(cpu, "cpufreq/scaling_governor")
    found["boost"] = (files.read("sys/devices/system/cpu/cpufreq/boost"),
                      files.read("sys/devices/system/cpu/intel_pstate/no_turbo"))
    found["irqbalance"] = sorted(noise.irqbalance_pids())
    return found


@pytest.fixture
def host_restored() -> Iterator[dict[str, object]]:
    """The knobs as they were; put back by `bench tune --reset` should a test fail half-way."""
    before = knobs()
    try:
        yield before
    finally:
        if tune.saved() is not None:
            bench("tune", "--reset")


def test_tune_then_reset_reads_back_every_saved_value(host_restored: dict[str, object]) -> None:
    cpu = instance_cpu()
    tuned = bench("tune")
    if tuned.returncode == 2:  # a host where nothing can be set: each knob is said, nothing is saved
        assert "nothing could be set" in tuned.stderr and tune.saved() is None, tuned.stderr
        return
    assert tuned.returncode == 0, tuned.stderr
    state = tune.saved()
    assert state is not None and state.owner == "bench tune"
    moved = [k for k in state.knobs if k.name.startswith("irq ")]
    during = knobs()
    for knob in moved:  # each IRQ the instance CPU could get is kept off it now
        assert cpu not in during[knob.name.removesuffix(" affinity")], (knob, during)
    if not any(k.name.startswith("governor") for k in state.knobs):
        assert "no cpufreq" in tuned.stdout or "governor" not in tuned.stdout
    reset = bench("tune", "--reset")
    assert reset.returncode == 0, reset.stderr
    assert knobs() == host_restored
    assert tune.saved() is None
    again = bench("tune", "--reset")
    assert again.returncode == 0 and "nothing to reset" in again.stdout


def test_a_run_killed_while_the_host_is_tuned_is_restored_by_clean(tmp_path: Path, images: dict,
                                                                   host_restored: dict[str, object]) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    killed = bench("run", str(suite), "--tune", "--output-dir", str(tmp_path / "runs"),
                   env={"BENCH_KILL_AT": "tune:applied"})
    if tune.saved() is None:  # nothing could be set here: the run went on untuned
        assert "the run goes on untuned" in killed.stderr, killed.stderr
        return
    assert killed.returncode == -9, killed.stderr
    state = tune.saved()
    assert state is not None and state.owner == "run"
    assert knobs() != host_restored
    cleaned = bench("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert "removed tuned host by run pid" in cleaned.stdout
    assert knobs() == host_restored and tune.saved() is None
