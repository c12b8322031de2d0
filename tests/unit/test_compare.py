"""`bench compare` on synthetic runs with known shifts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.analysis import stats
from bench.analysis.compare import compare
from bench.analysis.judgement import IMPROVEMENT, REGRESSION, UNCHANGED, UNDECIDABLE, judge
from bench.model.series import SeriesKey
from bench.cli.main import main
from bench.rundir import runs
from tests.unit.synthetic_runs import baseline_values, scaled, write_run


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write_run(tmp_path, "base", baseline_values())


def status_of(outcome, workload: str, metric: str, platform: str) -> str:  # type: ignore[no-untyped-def]
    (change,) = [c for c in outcome.changes if (c.series.workload, c.series.metric, c.series.platform) == (workload, metric, platform)]
    return change.status


def test_a_run_against_itself_has_no_regression(base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(base), str(base)]) == 0
    out = capsys.readouterr().out
    assert "no regression beyond 10% at alpha 0.01" in out and "regression " not in out.split("\n", 1)[1].split("no regression")[0]


def test_a_30_percent_slowdown_is_flagged_and_named(tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = write_run(tmp_path, "slow", scaled(baseline_values(), ("boot", "docker", "boot_s"), 1.3))
    assert main(["compare", str(base), str(slow)]) == 1
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "1 regression(s): boot boot_s on docker +30.0%"
    outcome = compare(runs.load(base), runs.load(slow))
    assert [c.name(with_accel=False) for c in outcome.regressions] == ["boot boot_s on docker"]
    assert status_of(outcome, "boot", "boot_s", "vm") == UNCHANGED


def test_a_noise_level_change_is_not_flagged(tmp_path: Path, base: Path) -> None:
    noisy = write_run(tmp_path, "noisy", scaled(baseline_values(), ("boot", "docker", "boot_s"), 1.02))
    outcome = compare(runs.load(base), runs.load(noisy))
    # Significant (every trial moved) but below the threshold: both are needed.
    assert status_of(outcome, "boot", "boot_s", "docker") == UNCHANGED and not outcome.regressions


def test_a_30_percent_improvement_is_not_a_regression(tmp_path: Path, base: Path) -> None:
    fast = write_run(tmp_path, "fast", scaled(baseline_values(), ("boot", "vm", "boot_s"), 0.7))
    outcome = compare(runs.load(base), runs.load(fast))
    assert status_of(outcome, "boot", "boot_s", "vm") == IMPROVEMENT and not outcome.regressions


def test_higher_is_better_metrics_are_judged_the_right_way_round(tmp_path: Path, base: Path) -> None:
    slower_cpu = write_run(tmp_path, "lower", scaled(baseline_values(), ("cpu", "docker", "score"), 0.7))
    faster_cpu = write_run(tmp_path, "higher", scaled(baseline_values(), ("cpu", "docker", "score"), 1.3))
    assert status_of(compare(runs.load(base), runs.load(slower_cpu)), "cpu", "score", "docker") == REGRESSION
    assert status_of(compare(runs.load(base), runs.load(faster_cpu)), "cpu", "score", "docker") == IMPROVEMENT


def test_a_large_change_inside_the_noise_is_not_significant() -> None:
    base = [1.0, 2.0, 0.5, 1.5, 1.0]
    current = [1.4, 0.6, 2.2, 1.3, 0.9]  # median +30%, but the samples overlap entirely
    judged = judge(SeriesKey("cpu", "docker", "none", "workload_s", "", "s", "lower"), base, current, 0.10, 0.01)
    assert judged.change == pytest.approx(0.3) and judged.p_worse > 0.1 and judged.status == UNCHANGED


def test_too_few_trials_to_reach_alpha_is_said(tmp_path: Path) -> None:
    three = {k: v[:3] for k, v in baseline_values().items()}
    a = write_run(tmp_path, "a", three)
    b = write_run(tmp_path, "b", scaled(three, ("boot", "docker", "boot_s"), 1.5))
    outcome = compare(runs.load(a), runs.load(b))
    assert status_of(outcome, "boot", "boot_s", "docker") == UNDECIDABLE
    assert any("too few trials to reach alpha 0.01 (the smallest possible p is 0.05)" in n for n in outcome.notes)


def test_markdown_is_a_table(tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = write_run(tmp_path, "slow", scaled(baseline_values(), ("boot", "docker", "boot_s"), 1.3))
    assert main(["compare", str(base), str(slow), "--markdown"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("### :x: bench compare: 1 regression(s)")
    table = [line for line in lines if line.startswith("|")]
    assert table[1] == "|" + "---|" * 10
    assert all(line.count("|") == 11 for line in table)
    assert table[2].startswith("| **regression** | boot | boot_s | docker |")
    # The regression's own table first, then the counts; every series folded below them.
    assert lines.index("**Regressions**") < lines.index(table[0]) < lines.index(next(
        line for line in lines if line.startswith("<details><summary>Every series")))
    assert any(line.startswith(f"{len(table) - 3 - 2} series: 1 regression, ") for line in lines)


def test_json_names_the_regressions(tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = write_run(tmp_path, "slow", scaled(baseline_values(), ("idle", "vm", "mem_pss_mean_mib"), 1.4))
    assert main(["compare", str(base), str(slow), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["regressions"] == ["idle mem_pss_mean_mib on vm"]


@pytest.mark.parametrize("make, message", [
    (lambda t: write_run(t, "other", baseline_values(), suite="smoke"), "different suites"),
    (lambda t: write_run(t, "kvm", baseline_values(), vm_accel="kvm"), "TCG and KVM numbers are not comparable"),
    (lambda t: t / "missing", "no such run directory"),
])
def test_mismatched_or_missing_runs_exit_2(tmp_path: Path, base: Path, make, message: str,  # type: ignore[no-untyped-def]
                                         capsys: pytest.CaptureFixture[str]) -> None:
    other = make(tmp_path)
    assert main(["compare", str(base), str(other)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_tcg_against_kvm_compares_when_forced(tmp_path: Path, base: Path) -> None:
    kvm = write_run(tmp_path, "kvm", baseline_values(), vm_accel="kvm")
    assert main(["compare", str(base), str(kvm), "--force"]) == 0


def test_a_corrupt_trials_file_exits_2(tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write_run(tmp_path, "broken", baseline_values())
    lines = (broken / "trials.jsonl").read_text().splitlines(keepends=True)
    (broken / "trials.jsonl").write_text("".join(lines[:2] + ["{not json\n"] + lines[2:]))
    assert main(["compare", str(base), str(broken)]) == 2
    assert "trials.jsonl:3: not a trial record" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--threshold", "ten"], ["--alpha", "2"], ["--metrics", "nonsense"]])
def test_bad_arguments_exit_2(base: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(base), str(base), *args]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_rank_test_exact_p_values() -> None:
    separated = stats.rank_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], "greater")
    assert separated.p == pytest.approx(1 / 252) and separated.min_p == pytest.approx(1 / 252)
    assert stats.rank_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], "less").p == 1.0
    tied = stats.rank_test([1, 1, 1], [1, 1, 1], "greater")
    assert tied.p == 1.0  # all arrangements give the same rank sum
