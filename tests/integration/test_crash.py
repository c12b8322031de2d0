"""`bench run` killed with SIGKILL at points chosen by a seed, on the real engines: after each
kill `bench clean` leaves nothing on the host, and `bench run --resume` goes on; the last resume
completes the run with its original plan, every trial once. Also a kill during an image build,
and precision rounds killed and resumed.

The kill points are BENCH_KILL_AT's (bench/host/killpoints.py): the run kills itself there,
as `kill -9` would, so a point is reached on every host, fast or slow. The seed is printed;
BENCH_CRASH_SEED=N replays one.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench import config
from bench.definitions import suite as suites
from bench.host import cgroup, engines, killpoints
from bench.host.files import TMP_PREFIX
from bench.net.servers import OWNER_ENV
from bench.operations import cleanup
from bench.run.runner import current_records
from bench.model.trial import PlannedTrial
from bench.run.schedule import plan
from bench.rundir.results import RunDir
from tests.realhost import bench, require_platforms, with_stresses

SUITE = """\
name = "crash"
platforms = ["native", "docker", "vm", "lxc"]
workloads = ["boot", "density", "net", "noisy-randread"]
repetitions = 1
warmup = 0
seed = 17
seconds = 1  # where the kills land is what counts: net's clients and the victim run 1 s

[only]
native = ["boot", "density", "noisy-randread"]
docker = ["boot", "density"]
vm = ["boot"]
lxc = ["net"]

[density]
instances = 2
"""
# Where a trial can be killed, in the order a trial reaches them (bench/host/killpoints.py).
PHASES = ("servers", "started", "instance-1", "instance-2", "ready", "stress-cpu", "record")
POINTS = {"boot": ("started", "ready", "record"), "density": ("instance-1", "instance-2", "record"),
          "net": ("servers", "started", "ready", "record"), "noisy-randread": ("stress-cpu", "record")}
# What each kind of trial must be killed in at least once, and at which of its points.
REQUIRED = {
    "container": (lambda t: (t.platform, t.workload) == ("docker", "boot"), ("started", "ready")),
    "vm": (lambda t: t.platform == "vm", ("started", "ready")),
    "native": (lambda t: (t.platform, t.workload) == ("native", "boot"), ("started", "ready")),
    "density": (lambda t: t.workload == "density", ("instance-2",)),
    "net": (lambda t: t.workload == "net", ("servers", "started", "ready")),
    "interference": (lambda t: t.workload == "noisy-randread", ("stress-cpu",)),
    "torn line": (lambda t: True, ("record",)),
}
KILLS = 8


@dataclass(frozen=True)
class KillPoint:
    trial: PlannedTrial
    point: str

    def __str__(self) -> str:
        return f"{self.trial.seq}:{self.point} ({self.trial.platform} {self.trial.workload})"


def choose_points(trials: list[PlannedTrial], rng: random.Random) -> list[KillPoint]:
    """A point in a trial of each required kind, then others up to KILLS, never the same one
    twice (a trial killed at one point runs again on resume and can be killed at a later one);
    in the order the run reaches them."""
    chosen: set[KillPoint] = set()
    for matches, points in REQUIRED.values():
        chosen.add(rng.choice([KillPoint(t, p) for t in trials if matches(t) for p in points
                               if KillPoint(t, p) not in chosen]))
    others = [KillPoint(t, p) for t in trials for p in POINTS[t.workload] if KillPoint(t, p) not in chosen]
    chosen.update(rng.sample(others, KILLS - len(chosen)))
    order = [t.seq for t in trials]
    return sorted(chosen, key=lambda k: (order.index(k.trial.seq), PHASES.index(k.point)))


def on_the_host() -> list[str]:
    """What the harness may have left, each seen directly (not through `bench clean`'s own
    listing): containers and volumes by label; domains, networks and QEMU processes by name;
    host servers by their environment; processes, cgroups, bridges and iptables rules that name
    the prefix; temp and instance files in the cache."""
    found = []
    client = engines.docker_client()
    labelled = client.containers.list(all=True, filters={"label": config.RUN_LABEL}, ignore_removed=True)
    found += [f"container {c.name}" for c in labelled]
    found += [f"volume {v.name}" for v in client.volumes.list(filters={"label": config.RUN_LABEL})]
    conn = engines.libvirt_connection()
    try:
        found += [f"domain {d.name()}" for d in conn.listAllDomains() if d.name().startswith(config.NAME_PREFIX)]
        found += [f"network {n.name()}" for n in conn.listAllNetworks() if n.name().startswith(config.NAME_PREFIX)]
    finally:
        conn.close()
    for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if OWNER_ENV in (proc.info["environ"] or {}) or (config.NAME_PREFIX in cmdline and "pytest" not in cmdline):
            found.append(f"process {proc.info['pid']} {cmdline[:80]}")
    found += [f"cgroup {g}" for h in cgroup.hierarchies() for g in h.glob(f"{config.NAME_PREFIX}*")]
    found += [f"link {name}" for name in psutil.net_if_addrs() if name.startswith("vmctb")]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout.splitlines()
    found += [f"iptables {line}" for line in rules if "vmctb" in line]
    cache = config.cache_dir()
    found += [f"file {p}" for p in [*cache.glob(f"{TMP_PREFIX}*"), *cache.glob(f"*/{TMP_PREFIX}*"),
                                    *(cache / "instances").glob("*")]]
    return sorted(found)


def kill_at(point: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return bench(*args, env={**(env or {}), killpoints.ENV: point})


def clean_after_crash(where: str) -> list[str]:
    """`bench clean` after a crash: what was there before it (returned), and nothing after it."""
    before = on_the_host()
    cleaned = bench("clean")
    assert cleaned.returncode == 0, f"{where}: {cleaned.stderr}"
    after = on_the_host()
    assert after == [] and cleanup.leftovers() == [], f"{where}: left after `bench clean`: {after}"
    return before


def test_a_run_killed_at_eight_points_is_cleaned_each_time_and_resumes_to_its_plan(tmp_path: Path,
                                                                                   images: dict) -> None:
    require_platforms("native", "docker", "vm", "lxc")
    seed = int(os.environ.get("BENCH_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    suite_path = tmp_path / "suite.toml"
    suite_path.write_text(SUITE)
    # The interference trial with one stress: the kill lands while the neighbour's stress runs.
    env = with_stresses(tmp_path / "workloads", "noisy-randread", ["stress-cpu"])
    trials = plan(suites.load(suite_path))
    kills = choose_points(trials, random.Random(seed))
    where = f"crash seed {seed} (BENCH_CRASH_SEED={seed} replays it)"
    print(f"\n{where}: kill points {', '.join(map(str, kills))}")
    runs = tmp_path / "runs"
    run: RunDir | None = None
    for kill in kills:
        point = f"{kill.trial.seq}:{kill.point}"
        args = ("run", "--resume", str(run.path)) if run else ("run", str(suite_path), "--output-dir", str(runs))
        proc = kill_at(point, *args, "--no-report", env=env)
        assert proc.returncode == -9, f"{where}: {point} was not reached: {proc.stderr[-2000:]}"
        run = run or RunDir.open(next(runs.iterdir()))
        lines = (run.path / "trials.jsonl").read_text()
        if kill.point == "record":  # the kill came halfway through the trial's line
            assert lines and not lines.endswith("\n"), f"{where}: {point}: no torn line"
        found = clean_after_crash(f"{where}, after {point}")
        print(f"  killed at {kill}: before `bench clean`: {'; '.join(found) or 'nothing'}")
        if kill.point != "record":  # killed with its instance (or its servers) up
            assert found, f"{where}: {point}: the killed trial left nothing to clean?"
        if kill.point == "servers":
            assert any(f.startswith("process") for f in found), f"{where}: {point}: no host server left: {found}"
            assert any(f.startswith("network") for f in found), f"{where}: {point}: no run network left: {found}"
        if kill.point == "instance-2":
            instances = {f.split()[1] for f in found if f.startswith(("container", "cgroup"))}
            assert len({name.rsplit("/", 1)[-1] for name in instances}) >= 2, f"{where}: {point}: {found}"
        recorded = current_records(run.records())
        assert kill.trial.seq not in {r.seq for r in recorded}, f"{where}: {point}: the killed trial was recorded"
    assert run is not None
    finished = bench("run", "--resume", str(run.path), "--no-report", env=env)
    assert finished.returncode == 0, f"{where}: {finished.stderr[-2000:]}"
    info = run.info()
    assert info.plan == trials, f"{where}: the plan changed"
    assert len(info.resumed) == KILLS
    records = run.records()
    ok = Counter(r.seq for r in records if r.ok)
    assert sorted(ok) == [t.seq for t in sorted(trials, key=lambda t: t.seq)], f"{where}: trials lost: {ok}"
    assert set(ok.values()) == {1}, f"{where}: a trial ran twice: {ok}"
    assert all(r.ok for r in current_records(records)), f"{where}: {[r.summary() for r in records if not r.ok]}"
    assert (run.path / "trials.jsonl").read_text().endswith("\n")
    assert on_the_host() == []


def test_a_build_killed_in_its_work_directory_is_cleaned_then_builds_again(images: dict) -> None:
    proc = kill_at("build:app_images", "images", "build")
    assert proc.returncode == -9, proc.stderr[-2000:]
    found = clean_after_crash("after the killed build")
    assert [f for f in found if f.startswith("file") and TMP_PREFIX in f], found
    rebuilt = bench("images", "build")
    assert rebuilt.returncode == 0, rebuilt.stderr
    shown = json.loads(bench("images", "show", "--json").stdout)
    assert shown["key"] == images["key"]  # the same images as before the crash


PRECISE = """\
name = "precise"
platforms = ["native"]
workloads = ["boot"]
repetitions = 2
warmup = 0
seed = 5

[precision]
time = 0.000001
max_repetitions = 5
"""


def test_precision_rounds_rewrite_the_plan_stop_at_the_cap_and_resume(tmp_path: Path, images: dict) -> None:
    # A boot time never repeats to a millionth: every check asks for one more, up to the cap.
    suite_path = tmp_path / "suite.toml"
    suite_path.write_text(PRECISE)
    proc = kill_at("4:ready", "run", str(suite_path), "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == -9, proc.stderr[-2000:]
    run = RunDir.open(next((tmp_path / "runs").iterdir()))
    added = [t for t in run.info().plan if t.added]
    assert [t.seq for t in added] == [3, 4] and added[0].added.startswith("boot_s ±")
    clean_after_crash("after the precision run's kill")
    resumed = bench("run", "--resume", str(run.path), "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    info = run.info()
    assert [t.seq for t in info.plan] == [1, 2, 3, 4, 5]  # stopped at the cap of 5
    assert [t.repetition for t in info.plan] == [1, 2, 3, 4, 5]
    assert sorted(r.seq for r in current_records(run.records()) if r.ok) == [1, 2, 3, 4, 5]
    assert "precision: 1 more trial(s)" in resumed.stderr
    assert info.precision is not None
    assert info.precision["native/boot"].stopped == "cap" and info.precision["native/boot"].n == 5
