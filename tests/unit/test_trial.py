"""One trial against a scripted instance: what becomes ok, failed or aborted, and the samples."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

import psutil
import pytest

from bench.definitions.workload import HostServer, Score, Workload
from bench.model.trial import TrialRecord
from bench.platforms.base import TrialContext
from bench.run.trial import run_trial
from tests.unit.fakes import ScriptedDriver
from tests.unit.test_network import free_port

CPU = Workload("cpu", "d", ("sysbench",), ("sysbench", "cpu", "run"),
               Score("events/s", "higher", regex=r"events per second:\s*([0-9.]+)"), 5.0, Path("x"))
IDLE = Workload("idle", "d", (), ("sleep", "1"), None, 5.0, Path("x"))


def result_line(output: str, exit_code: int = 0, workload: str = "cpu") -> str:
    payload = {"workload": workload, "exit_code": exit_code, "started_ns": 1_000_000_000,
               "ended_ns": 3_500_000_000, "output_b64": base64.b64encode(output.encode()).decode()}
    return "@@BENCH RESULT " + json.dumps(payload)


def trial(lines: list[str], workload: Workload = CPU, close: bool = False,
          timeout_s: float = 2.0) -> tuple[TrialRecord, ScriptedDriver]:
    driver = ScriptedDriver(lines, close)
    ctx = TrialContext("r1", 1, workload, None)  # type: ignore[arg-type]
    record = TrialRecord("r1", 1, "fake", workload.name)
    return run_trial(driver, ctx, record, timeout_s), driver


def metrics(record: TrialRecord) -> dict[str, float]:
    return {s.metric: s.value for s in record.samples}


def test_a_good_trial_has_its_score_and_every_probe() -> None:
    record, driver = trial(["booting", "@@BENCH READY cpu 1", "noise",
                            result_line("events per second: 3121.5\n")])
    assert record.status == "ok" and record.reason == ""
    assert record.score == 3121.5 and record.score_unit == "events/s"
    assert record.guest_seconds == 2.5 and record.exit_code == 0
    found = metrics(record)
    assert found["score"] == 3121.5
    assert found["boot_s"] == record.ready_s
    phases = {k: v for k, v in found.items() if k.startswith("boot_phase.")}
    assert set(phases) == {"boot_phase.spawned_s", "boot_phase.first_output_s", "boot_phase.ready_s"}
    assert sum(phases.values()) == pytest.approx(record.ready_s)
    assert found["image_mib"] == 3.0 and found["instance_disk_mib"] == 1.0
    assert found["mem_rss_peak_mib"] > 1 and found["host_cpu_s"] > 0  # this test process, measured
    assert {s.platform for s in record.samples} == {"fake"}
    assert all(s.accel == "none" for s in record.samples)
    score = next(s for s in record.samples if s.metric == "score")
    assert score.better == "higher" and score.metadata["seq"] == 1
    assert driver.instances[0].torn_down == 1
    assert record.console_tail == []


def test_a_workload_without_a_score_is_measured_by_the_host_only() -> None:
    record, _ = trial(["@@BENCH READY idle 1", result_line("", workload="idle")], workload=IDLE)
    assert record.ok and record.score is None and "score" not in metrics(record)
    assert "boot_s" in metrics(record)


@pytest.mark.parametrize("bad_line, reason", [
    ("@@BENCH RESULT {not json", "RESULT line is not JSON"),
    ("@@BENCH RESULT [1, 2]", "RESULT line is not a JSON object"),
    ('@@BENCH RESULT {"workload": "cpu"}', "RESULT line lacks 'exit_code'"),
    ('@@BENCH RESULT {"workload": "cpu", "exit_code": 0, "started_ns": 1, "ended_ns": 2, "output_b64": "%%%"}',
     "output_b64 is not base64"),
    ('@@BENCH RESULT {"workload": "cpu", "exit_code": "0", "started_ns": 1, "ended_ns": 2, "output_b64": ""}',
     "wrong type"),
    ('@@BENCH RESULT {"error": "no such workload in this image"}', "launcher: no such workload in this image"),
])
def test_a_malformed_result_line_fails_the_trial_with_the_reason(bad_line: str, reason: str) -> None:
    record, driver = trial(["@@BENCH READY cpu 1", bad_line])
    assert record.status == "failed"
    assert reason in record.reason
    assert record.console_tail[-1] == bad_line
    assert driver.instances[0].torn_down == 1
    assert "score" not in metrics(record)


def test_a_missing_score_or_a_failing_workload_fails_the_trial() -> None:
    record, _ = trial(["@@BENCH READY cpu 1", result_line("no numbers here\n")])
    assert record.status == "failed" and "no match for" in record.reason
    record, _ = trial(["@@BENCH READY cpu 1", result_line("sysbench: oops\n", exit_code=3)])
    assert record.status == "failed" and record.reason == "workload exited with code 3: sysbench: oops"


def test_result_without_ready_fails() -> None:
    record, _ = trial([result_line("events per second: 1\n")])
    assert record.status == "failed" and record.reason == "RESULT came without READY"


def test_a_timeout_fails_with_the_console_tail() -> None:
    record, driver = trial(["Booting from ROM..."], timeout_s=0.3)
    assert record.status == "failed"
    assert record.reason == "no '@@BENCH READY' or '@@BENCH RESULT' line within 0.3 s"
    assert record.console_tail == ["Booting from ROM..."]
    assert driver.instances[0].torn_down == 1
    assert "boot_s" not in metrics(record) and "teardown_s" in metrics(record)


def test_a_missing_result_after_ready_names_the_trials_whole_timeout() -> None:
    # READY arrived, so part of the deadline was spent: the reason still names the trial's timeout.
    record, _ = trial(["@@BENCH READY cpu 1"], timeout_s=0.3)
    assert record.status == "failed"
    assert record.reason == "no '@@BENCH RESULT' line within 0.3 s"


def test_an_instance_that_dies_fails_with_why() -> None:
    record, _ = trial(["@@BENCH READY cpu 1", "Segmentation fault"], close=True)
    assert record.status == "failed" and record.reason == "process exited with code 1"


def test_an_interrupt_aborts_the_trial_after_teardown() -> None:
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    driver = ScriptedDriver(["@@BENCH READY cpu 1"])
    record = TrialRecord("r1", 1, "fake", "cpu")
    with pytest.raises(KeyboardInterrupt):
        run_trial(driver, TrialContext("r1", 1, CPU, None), record, 10.0)  # type: ignore[arg-type]
    assert record.status == "aborted" and record.reason == "interrupted"
    assert driver.instances[0].torn_down == 1
    assert TrialRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_a_workloads_own_metrics_become_samples() -> None:
    disk = Workload("disk", "d", ("fio",), ("fio",), None, 5.0, Path("x"), 1.0, {
        "randread_iops": Score("IOPS", "higher", json_path=("jobs", "0", "read", "iops")),
        "p99_us": Score("µs", "lower", json_path=("jobs", "0", "read", "clat_ns", "percentile", "99.000000"),
                        scale=0.001)})
    output = 'fio: note\n{"jobs": [{"read": {"iops": 1234.5, "clat_ns": {"percentile": {"99.000000": 250000}}}}]}'
    record, _ = trial(["@@BENCH READY disk 1", result_line(output, workload="disk")], workload=disk)
    assert record.status == "ok", record.reason
    found = {s.metric: s for s in record.samples}
    assert found["randread_iops"].value == 1234.5 and found["randread_iops"].better == "higher"
    assert found["p99_us"].value == 250.0 and found["p99_us"].unit == "µs"
    assert "score" not in found


def http_net_workload(port: int) -> Workload:
    server = HostServer("http", (sys.executable, "-m", "http.server", "--bind", "{address}", str(port)), port)
    return Workload("net", "d", (), ("true",), None, 5.0, Path("x"), 1.0, network=True, servers=(server,))


def server_processes(port: int) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if "http.server" in (p.info["cmdline"] or [])
            and str(port) in (p.info["cmdline"] or [])]


def test_a_network_trial_runs_the_host_servers_only_while_it_lasts() -> None:
    port = free_port()
    record, driver = trial(["@@BENCH READY net 1", result_line("", workload="net")], workload=http_net_workload(port))
    assert record.status == "ok", record.reason
    assert record.facts["network_path"] == "loopback (fake)"
    assert record.facts["network_servers"].startswith(f"http on :{port}; listening on 127.0.0.1 only")
    assert driver.instances[0].torn_down == 1 and server_processes(port) == []


def test_a_host_server_that_cannot_start_fails_the_trial_before_the_instance_starts() -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        record, driver = trial(["@@BENCH READY net 1"], workload=http_net_workload(port))
    assert record.status == "failed" and record.reason.startswith("host server http exited")
    assert "spawned" not in driver.instances[0].phases  # never started
    assert driver.instances[0].torn_down == 1 and server_processes(port) == []
