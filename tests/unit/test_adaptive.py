"""Adaptive repetitions: which platform × workload gets another one, and what the report says."""

from __future__ import annotations

from pathlib import Path

from bench.definitions.suite import Adaptive, Suite
from bench.definitions.workload import Score, Workload
from bench.model.sample import Sample
from bench.model.trial import TrialRecord
from bench.report import caveats
from bench.run.runner import _still_noisy
from bench.run.schedule import plan
from bench.rundir import runs
from tests.unit.synthetic_runs import baseline_values, write_run

CPU = Workload("cpu", "d", (), ("true",), Score("events/s", "higher", regex="(x)"), 5.0, Path("x"))


def record(seq: int, platform: str, value: float) -> TrialRecord:
    return TrialRecord("r", seq, platform, "cpu", status="ok",
                       samples=[Sample("score", value, "events/s", "higher", platform, "cpu")])


def test_only_noisy_pairs_below_the_cap_get_more() -> None:
    suite = Suite("t", "", ("native", "docker"), ("cpu",), repetitions=3, warmup=0,
                  adaptive=Adaptive(cv=0.03, max_repetitions=4))
    trials = plan(suite)
    records = [record(1, "native", 100), record(2, "native", 101), record(3, "native", 100.5),
               record(4, "docker", 100), record(5, "docker", 120), record(6, "docker", 90)]
    noisy = _still_noisy(suite, trials, records, {"cpu": CPU})
    assert list(noisy) == [("docker", "cpu")] and noisy[("docker", "cpu")].startswith("score CV 14.")
    capped = Suite("t", "", ("native", "docker"), ("cpu",), repetitions=3, warmup=0,
                   adaptive=Adaptive(cv=0.03, max_repetitions=3))
    assert _still_noisy(capped, plan(capped), records, {"cpu": CPU}) == {}


def test_the_report_says_what_was_added_and_why(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, "ad", baseline_values())
    loaded = runs.load(run_dir)
    info = loaded.info
    info["suite"]["adaptive"] = {"cv": 0.001, "max_repetitions": 6}
    info["plan"] = [{"seq": 99, "repetition": 6, "warmup": False, "platform": "docker", "workload": "cpu",
                     "added": "score CV 0.5% > 0%"}] + [
        {"seq": i, "repetition": i, "warmup": False, "platform": "docker", "workload": "cpu", "added": ""}
        for i in range(1, 6)]
    (note,) = [c for c in caveats.caveats(loaded) if "Adaptive" in c.text]
    assert "added 1 trial(s)" in note.text and "docker cpu +1 (first: score CV 0.5% > 0%" in note.text
    assert "Stopped at the cap of 6 repetitions, still above the limit: docker cpu (score CV" in note.text
