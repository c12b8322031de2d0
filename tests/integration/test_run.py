"""`bench run` against the real engines: interrupted and resumed, a trial that times out,
and the refusal to start over another run's leftovers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

from bench.definitions.workload import load as load_workload
from bench.host import engines
from bench.operations import cleanup
from bench.rundir.results import RunDir
from tests.realhost import bench

TWO_PLATFORMS = """\
name = "it"
platforms = ["native", "vm"]
workloads = ["boot"]
repetitions = 2
warmup = 0
seed = 3
{extra}
"""


def write_suite(tmp_path: Path, extra: str = "", text: str = TWO_PLATFORMS) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text.format(extra=extra))
    return path


def only_run_dir(root: Path) -> Path:
    (found,) = list(root.iterdir())
    return found


def qemu_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] and p.info["name"].startswith("qemu-system")
            and any("vmctb-" in part for part in p.info["cmdline"] or [])]


def test_sigint_during_a_vm_trial_then_resume(tmp_path: Path, images: dict) -> None:
    runs = tmp_path / "runs"
    conn = engines.libvirt_connection()
    # Under TCG a boot keeps its domain for seconds: the interrupt lands inside the VM trial on any
    # host. Under KVM the whole trial can end between two looks at the domain list.
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(write_suite(tmp_path)), "--accel", "tcg",
                             "--output-dir", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    def vm_trials() -> list[str]:  # not doctor's probe guest, should the run have to probe first
        return [d.name() for d in cleanup.leftover_domains(conn) if d.name().endswith("-vm")]

    deadline = time.monotonic() + 180
    while not vm_trials() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert vm_trials(), "no VM trial seen while the run went on"
    proc.send_signal(signal.SIGINT)  # the guest is booting now
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    # Nothing of the trial in flight is left: no domain, no QEMU, no overlay, no container.
    assert cleanup.leftovers() == []
    assert qemu_processes() == []
    run = RunDir.open(only_run_dir(runs))
    partial = run.records()  # readable, line by line
    assert partial and partial[-1].status == "aborted" and partial[-1].platform == "vm"
    assert partial[-1].reason == "interrupted"
    assert all(r.status == "ok" for r in partial[:-1])
    info = run.info()
    assert info.image_key == images["key"] and len(info.plan) == 4
    assert info.command.startswith("bench run ")

    resumed = bench("run", "--resume", str(run.path))
    assert resumed.returncode == 0, resumed.stderr
    assert f"run directory: {run.path}" in resumed.stdout
    records = run.records()
    latest = {r.seq: r for r in records}
    assert sorted(latest) == [1, 2, 3, 4] and all(r.ok for r in latest.values())
    assert len(records) == 5  # the aborted trial ran again, the finished ones did not
    vm = [r for r in latest.values() if r.platform == "vm"]
    assert run.info().accel_requested == "tcg" and all(r.accel == "tcg" for r in vm)  # kept on resume
    assert all(s.accel == r.accel for r in vm for s in r.samples)
    summary = pd.read_csv(run.path / "summary.csv")
    boot = summary[summary["metric"] == "boot_s"].set_index("platform")
    assert set(boot.index) == {"native", "vm"} and (boot["n"] == 2).all()
    assert boot.loc["vm", "median"] > boot.loc["native", "median"] > 0
    assert len(run.info().resumed) == 1


def test_a_trial_that_times_out_fails_with_its_console_and_the_run_goes_on(tmp_path: Path, images: dict) -> None:
    runs = tmp_path / "runs"
    # A timeout by construction, on any host (KVM too): the VM runs `idle`, whose command sleeps
    # 10 s inside the guest, so RESULT cannot come within 3 s; native only boots, in milliseconds.
    idle = load_workload("idle")
    assert idle.command == ("sleep", "{seconds}") and idle.seconds == 10
    suite = write_suite(tmp_path, text=TWO_PLATFORMS.replace('["boot"]', '["boot", "idle"]'),
                        extra='timeout_s = 3\n[only]\nnative = ["boot"]\nvm = ["idle"]')
    proc = bench("run", str(suite), "--output-dir", str(runs))
    assert proc.returncode == 1, proc.stderr
    assert "2 of 4 trials did not succeed" in proc.stdout
    records = RunDir.open(only_run_dir(runs)).records()
    failed = [r for r in records if not r.ok]
    assert {(r.platform, r.workload) for r in failed} == {("vm", "idle")} and len(failed) == 2
    # Before READY (a slow VM) or after it (a fast one): either way the trial's own limit is named.
    assert failed[0].reason in ("no '@@BENCH READY' or '@@BENCH RESULT' line within 3 s",
                                "no '@@BENCH RESULT' line within 3 s"), failed[0].reason
    assert failed[0].console_tail  # what the guest printed before it was given up
    assert all(r.ok for r in records if r.platform == "native")
    assert any(line.split()[:3] == ["boot", "boot_s", "native"] for line in proc.stdout.splitlines())


def test_leftovers_of_another_run_are_refused_then_cleaned(tmp_path: Path, images: dict) -> None:
    cache = Path(images["rootfs_dir"]).parents[2]
    stray = cache / "instances" / "vmctb-crashed-1-vm.qcow2"
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"")
    try:
        proc = bench("run", str(write_suite(tmp_path)), "--output-dir", str(tmp_path / "runs"))
        assert proc.returncode == 2
        assert proc.stderr.startswith("bench: error: leftovers of another run exist (file ")
        assert "bench clean" in proc.stderr and not (tmp_path / "runs").exists()
        cleaned = bench("clean")
        assert f"removed file {stray}" in cleaned.stdout
        assert "0 leftover(s) removed" in bench("clean").stdout  # idempotent
    finally:
        stray.unlink(missing_ok=True)


def test_a_live_run_is_spared_by_clean_and_a_second_run_waits(tmp_path: Path, images: dict) -> None:
    client = engines.docker_client()
    # `idle` keeps its container up for 10 s (sleep 10), ample time for both checks on any host.
    suite = write_suite(tmp_path, text=TWO_PLATFORMS.replace('["native", "vm"]', '["docker"]')
                        .replace('["boot"]', '["idle"]').replace("repetitions = 2", "repetitions = 1"))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--no-report",
                             "--output-dir", str(tmp_path / "runs")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (live := cleanup.leftover_containers(client)) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live, "no container seen while the run went on"
    cleaned = bench("clean")
    second = bench("run", str(suite), "--output-dir", str(tmp_path / "second"))
    still_there = [c.name for c in cleanup.leftover_containers(client)]
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    run_id = json.loads((only_run_dir(tmp_path / "runs") / "run.json").read_text())["run_id"]
    assert f"spared run {run_id} (pid {proc.pid}): it is still running" in cleaned.stdout
    assert "0 leftover(s) removed" in cleaned.stdout
    assert live[0].name in still_there
    assert second.returncode == 2
    assert second.stderr.startswith(f"bench: error: another run is in progress on this host (run {run_id} ")
    assert not (tmp_path / "second").exists()


def test_run_json_records_provenance(real_runs: list[Path]) -> None:
    info = json.loads((real_runs[0] / "run.json").read_text())
    assert info["format"] == 2 and info["suite"]["name"] == "it-history" and info["seed"] == 5
    assert info["kinds"] == {"boot": "single", "hello": "single"}
    assert len(info["harness"]["commit"]) == 40
    assert info["versions"]["psutil"] == psutil.__version__
    assert "(API 1." in info["versions"]["docker engine"] and "qemu" not in info["versions"]  # no VM ran
    assert info["host"]["logical_cpus"] >= 1 and info["images"]["artifacts"]["vm_disk"]
