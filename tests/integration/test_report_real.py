"""Report, compare and export on real runs: real containers and a real VM, and a real
slowdown that compare must catch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


from bench.rundir.results import RunDir
from tests.browser import open_page
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench
from tests.unit.test_report import SECTIONS, parse

THREE_PLATFORMS = """\
name = "it-report"
platforms = ["native", "docker", "docker-app", "vm"]
workloads = ["boot"]
repetitions = 2
warmup = 0
seed = 11
"""
DOCKER_CPU = """\
name = "it-gate"
platforms = ["docker"]
workloads = ["cpu"]
repetitions = 4
warmup = 0
seed = 12
# 3 s of prime search a trial, not 10: 300 of the loop's 10 ms periods still average its share,
# and the score varies by about 1-3 % against the 30 % the gate must catch.
seconds = 3
"""


def test_a_real_run_reports_isolation_renders_and_exports(tmp_path: Path, images: dict) -> None:
    runs = tmp_path / "runs"
    proc = bench("run", str(write_suite(tmp_path, text=THREE_PLATFORMS)), "--output-dir", str(runs))
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(runs)
    assert proc.stdout.strip().splitlines()[-1] == f"report: {run_dir / 'index.html'}"

    facts = {r.platform: r.facts for r in RunDir.open(run_dir).records()}
    # What /proc showed while each instance ran.
    assert facts["native"]["isolation.namespaces"] == "none (shares the host's)"
    assert facts["native"]["isolation.seccomp"] == "none"
    assert set(facts["docker"]["isolation.namespaces"].split()) >= {"mnt", "pid", "net", "uts", "ipc"}
    assert facts["docker"]["isolation.seccomp"] == "filter" and facts["docker"]["isolation.no_new_privs"] == "yes"
    held, total = facts["docker"]["isolation.capabilities"].split(" of ")
    assert 0 < int(held) < int(total)
    assert facts["vm"]["isolation.process"].startswith("qemu")
    assert facts["vm"]["isolation.kernel"].startswith(f"its own ({images['kernel_release']}")
    assert facts["docker"]["isolation.kernel"].startswith("the host's")

    tree = parse(run_dir / "index.html")
    assert set(SECTIONS) <= tree.ids
    text = " ".join(tree.text)
    accel = facts["vm"]["accel"]
    assert f"vm-minimal/{accel}" in text
    assert ("VMs ran under TCG emulation" in text) == (accel == "tcg")
    assert facts["docker-app"]["image"] != facts["docker"]["image"]  # its own, application-only image

    # In a real browser, with the network off: every section shows, nothing is fetched, no
    # console error; the first screen is the findings. The screenshot stays beside the report.
    screenshot = run_dir / "index.png"
    seen = open_page(run_dir / "index.html", SECTIONS, screenshot)
    assert all(seen.visible.values()), seen.visible
    assert seen.requests == [] and seen.console_errors == [] and seen.page_errors == []
    assert "What was found" in seen.first_screen_text and "Boot time" in seen.first_screen_text
    # Read in one screen at 1400×900: the scorecard and every finding start in it, the warnings
    # take a line each (at most 6 before the verdict), a finding opens on click.
    layout = seen.layout
    assert layout["scorecard"] < 900 and layout["findings"] and max(layout["findings"]) < 900, layout
    assert 0 < layout["warning_lines"] <= 6 and seen.opened, layout
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    first = (run_dir / "index.html").read_bytes()
    assert bench("report", str(run_dir)).returncode == 0
    assert (run_dir / "index.html").read_bytes() == first  # deterministic

    same = bench("compare", str(run_dir), str(run_dir))
    assert same.returncode == 0 and "no regression" in same.stdout

    exported = tmp_path / "pb.json"
    assert bench("export", str(run_dir), "--format", "pytest-benchmark", "-o", str(exported)).returncode == 0
    shown = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(exported)],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert shown.returncode == 0 and f"boot_s[vm-minimal/{accel}]" in shown.stdout, shown.stderr


# Busy 3.5 ms, asleep 6.5 ms (plus the sleep's overshoot): the loop wants about 30% of a CPU,
# less than its fair share, so the scheduler gives it that much whatever nice levels and
# autogroups say.
DUTY_CYCLE = """
import time
while True:
    start = time.perf_counter()
    while time.perf_counter() - start < 0.0035:
        pass
    time.sleep(0.0065)
"""


@contextmanager
def competing_for_the_trial_cpu() -> Iterator[None]:
    """A loop that takes about 30% of the CPU the trials run on (the last one)."""
    cpu = (os.cpu_count() or 1) - 1
    hog = subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", DUTY_CYCLE])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def test_compare_catches_a_real_30_percent_cpu_slowdown(tmp_path: Path, images: dict) -> None:
    suite = write_suite(tmp_path, text=DOCKER_CPU)
    baseline = bench("run", str(suite), "--output-dir", str(tmp_path / "base"), "--no-report")
    assert baseline.returncode == 0, baseline.stderr
    with competing_for_the_trial_cpu():
        slowed = bench("run", str(suite), "--output-dir", str(tmp_path / "slow"), "--no-report")
    assert slowed.returncode == 0, slowed.stderr
    base_dir, slow_dir = only_run_dir(tmp_path / "base"), only_run_dir(tmp_path / "slow")

    # The busy loop slows the container's start as well; the gate is asked about throughput.
    # Four trials a side: all of them apart give p = 1/70, judged at alpha 0.05 (CI time).
    gate = bench("compare", str(base_dir), str(slow_dir), "--metrics", "score", "--alpha", "0.05", "--json")
    assert gate.returncode == 1, gate.stdout + gate.stderr
    verdict = json.loads(gate.stdout)
    assert verdict["regressions"] == ["cpu score on docker"]
    (score,) = verdict["changes"]
    print(f"docker cpu score {score['baseline_median']:.1f} -> {score['current_median']:.1f} events/s "
          f"({score['change']:+.1%}, p={score['p_worse']:.4f})")
    assert -0.45 < score["change"] < -0.15  # about 70% of the CPU left: about 30% fewer events/s
    markdown = bench("compare", str(base_dir), str(slow_dir), "--metrics", "score", "--alpha", "0.05", "--markdown")
    assert markdown.returncode == 1 and "| **regression** | cpu | score | docker |" in markdown.stdout
    assert bench("compare", str(base_dir), str(base_dir)).returncode == 0
