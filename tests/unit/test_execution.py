"""The runner's own logic, with scripted drivers in place of the platforms': a run executes its
plan and records each trial; a resumed run reruns only what was not finished; the precision
rule stops a cell at the minimum once precise and at the cap when it never is; the ETA comes
from the trials seen. No engine, VM or host process is started."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench.analysis import summary
from bench.analysis.noisefloor import NoiseFloor
from bench.definitions.suite import Precision, Suite
from bench.model.resources import Resources
from bench.model.trial import TrialRecord
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes.disturbance import Disturbance
from bench.progress import Progress
from bench.run import schedule
from bench.run.runner import Execution, RunImages, current_records
from bench.rundir.info import RunInfo
from bench.rundir.results import RunDir
from tests.unit.fakes import ScriptedDriver, ScriptedInstance
from tests.unit.test_trial import CPU, result_line


class SequenceDriver(ScriptedDriver):
    """A platform's stand-in: each new instance prints READY, then a RESULT whose score is the
    next of `scores`."""

    def __init__(self, platform: str, scores: Iterator[float]) -> None:
        super().__init__([])
        self.name, self.scores = platform, scores

    def prepare(self, ctx: TrialContext) -> Instance:
        lines = [f"@@BENCH READY {ctx.workload.name} 1",
                 result_line(f"events per second: {next(self.scores)}\n", workload=ctx.workload.name)]
        instance = ScriptedInstance(ctx, lines, False, 0.0)
        instance.platform = self.name
        self.instances.append(instance)
        return instance


@pytest.fixture(autouse=True)
def own_cache_and_cpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The run's lease in a cache of its own; the CPUs this test process may use as they were
    (the runner keeps itself off the instances' CPUs)."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    allowed = os.sched_getaffinity(0)
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def suite(repetitions: int = 2, precision: Precision | None = None) -> Suite:
    return Suite("unit", "scripted", ("native", "docker"), ("cpu",), repetitions=repetitions, warmup=0, seed=3,
                 precision=precision)


class Made:
    """The drivers an execution asked for, by platform."""

    def __init__(self, scores: dict[str, list[float]]) -> None:
        self.scores = {p: iter(v) for p, v in scores.items()}
        self.drivers: dict[str, SequenceDriver] = {}

    def __call__(self, platform: str, progress: Progress, resources: Resources, accel: str) -> Driver:
        self.drivers[platform] = SequenceDriver(platform, self.scores[platform])
        return self.drivers[platform]

    def trials(self, platform: str) -> int:
        return len(self.drivers[platform].instances)


def execution(root: Path, chosen: Suite, made: Made, run: RunDir | None = None) -> Execution:
    plan = schedule.plan(chosen)
    info = {"run_id": "r1", "suite": chosen.to_json(), "seed": chosen.seed, "plan": [t.to_json() for t in plan]}
    run = run or RunDir.create(root, RunInfo.from_json(info))
    images = RunImages(None, {"cpu": CPU}, None, {}, {})  # type: ignore[arg-type]
    return Execution(run, run.info(), images, Progress(quiet=True), made, calibrate=FLOOR)


def FLOOR(cpus: tuple[int, ...]) -> NoiseFloor:
    return NoiseFloor(0.01, 10, 0.1, ",".join(map(str, cpus)), "scripted")


class ScriptedDisturbance:
    """In place of the disturbance probe: trial by trial, in the order they run, whether other
    processes took half of the instance's CPU (True) or nothing (False)."""

    def __init__(self, verdicts: list[bool]) -> None:
        self.verdicts = iter(verdicts)

    def __call__(self, cpus: tuple[int, ...], harness_cpus: tuple[int, ...]) -> object:
        busy = next(self.verdicts)

        class Probe:
            def start(self) -> None:
                pass

            def finish(self, instance_s: float) -> Disturbance:
                return Disturbance(cpus, 2.0, 2.0, 0.0, 1.0 if busy else 2.0, 0.0, ())
        return Probe()


def scores(record: TrialRecord) -> float:
    value = record.score
    assert isinstance(value, float)
    return value


def test_a_run_executes_its_plan_with_the_drivers_it_is_given(tmp_path: Path) -> None:
    made = Made({"native": [3000.0, 3010.0], "docker": [2990.0, 3005.0]})
    finished = execution(tmp_path, suite(), made).execute("auto")
    assert [(r.seq, r.platform, r.status) for r in finished.records] == [
        (t.seq, t.platform, "ok") for t in schedule.plan(suite())]
    assert made.trials("native") == made.trials("docker") == 2
    assert sorted(scores(r) for r in finished.records if r.platform == "native") == [3000.0, 3010.0]
    assert {r.platform for r in finished.summary} == {"native", "docker"}
    assert RunDir.open(finished.run.path).records() == finished.records  # each one on disk as it ended


def test_a_resumed_run_reruns_only_the_trials_not_finished(tmp_path: Path) -> None:
    chosen = suite()
    plan = schedule.plan(chosen)
    first = execution(tmp_path, chosen, Made({"native": [3000.0] * 4, "docker": [2990.0] * 4}))
    run = first.run
    # As a run interrupted during its third trial left it: two finished, the third aborted.
    for planned in plan[:2]:
        run.append(TrialRecord("r1", planned.seq, planned.platform, "cpu", planned.repetition, status="ok"))
    third = plan[2]
    run.append(TrialRecord("r1", third.seq, third.platform, "cpu", third.repetition, status="aborted",
                           reason="interrupted"))
    made = Made({"native": [3100.0] * 4, "docker": [3090.0] * 4})
    finished = execution(tmp_path, chosen, made, run).execute("auto")
    assert sum(made.trials(p) for p in made.drivers) == len(plan) - 2  # the third again, and the fourth
    latest = current_records(finished.records)
    assert [r.seq for r in latest] == [t.seq for t in plan] and all(r.status == "ok" for r in latest)
    assert [r.status for r in finished.records if r.seq == third.seq] == ["aborted", "ok"]


def test_the_precision_rule_stops_a_precise_cell_at_the_minimum_and_a_wild_one_at_the_cap(tmp_path: Path) -> None:
    """native's score is the same every time: precise after the 3 planned trials. docker's
    swings by a factor of 2: its ratio to native never narrows to 3 %, so it runs to the cap of
    6, and native with it (the ratio's width is both sides')."""
    rule = Precision(max_repetitions=6)
    chosen = suite(repetitions=3, precision=rule)
    made = Made({"native": [3000.0] * 10, "docker": [2000.0, 4000.0, 2500.0, 3900.0, 2100.0, 3800.0, 2200.0] * 2})
    finished = execution(tmp_path, chosen, made).execute("auto")
    assert made.trials("docker") == 6 and made.trials("native") == 6
    stopped = finished.info.precision
    assert stopped is not None
    assert stopped["docker/cpu"].stopped == "cap" and stopped["docker/cpu"].n == 6
    assert stopped["native/cpu"].stopped == "precise"


def test_a_precise_run_stops_at_the_minimum(tmp_path: Path) -> None:
    chosen = suite(repetitions=3, precision=Precision(max_repetitions=6))
    made = Made({"native": [3000.0] * 10, "docker": [2990.0, 2991.0, 2989.0] * 3})
    finished = execution(tmp_path, chosen, made).execute("auto")
    assert made.trials("native") == made.trials("docker") == 3
    assert {cell.stopped for cell in (finished.info.precision or {}).values()} == {"precise"}
    assert len(finished.info.plan) == len(RunDir.open(finished.run.path).info().plan) == 6  # no round added


def test_a_disturbed_trial_is_kept_and_counted_without_the_precision_rule(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.run.trial.DisturbanceProbe", ScriptedDisturbance([True, False, False, False]))
    made = Made({"native": [3000.0, 3010.0], "docker": [2990.0, 3005.0]})
    finished = execution(tmp_path, suite(), made).execute("auto")
    first = finished.records[0]
    assert [r.disturbed for r in finished.records] == [True, False, False, False]
    assert first.counted and not first.excluded and "50.0 % of CPU" in first.facts["disturbance"]
    assert {(r.platform, r.disturbed) for r in finished.summary if r.metric == "score"} == {
        (first.platform, 1), ({"native", "docker"}.difference({first.platform}).pop(), 0)}
    assert "disturbed" in summary.table_text(finished.summary).splitlines()[0]
    on_disk = RunDir.open(finished.run.path).info().noise_floor
    assert on_disk is not None and on_disk.how == "scripted" and on_disk == finished.info.noise_floor


def test_under_the_precision_rule_a_disturbed_trial_is_set_aside_and_run_again(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide targets: nothing but the disturbed trial asks for another round."""
    monkeypatch.setattr("bench.run.trial.DisturbanceProbe", ScriptedDisturbance([True] + [False] * 9))
    chosen = suite(repetitions=2, precision=Precision(max_repetitions=4, throughput=0.9, time=0.9, memory=0.9))
    made = Made({"native": [3000.0] * 5, "docker": [2990.0] * 5})
    finished = execution(tmp_path, chosen, made).execute("auto")
    first = finished.records[0]
    assert first.excluded.startswith("disturbed: ") and not first.counted
    added = [t for t in finished.info.plan if t.added]
    assert [(t.platform, t.added) for t in added] == [(first.platform, "1 disturbed trial(s) set aside, 1 of 2 counted")]
    counted = [r for r in finished.records if r.counted]
    assert sorted(r.platform for r in counted) == ["docker", "docker", "native", "native"]
    row = next(r for r in finished.summary if r.metric == "score" and r.platform == first.platform)
    assert (row.n, row.disturbed) == (2, 1)


def test_the_eta_comes_from_the_trials_seen_and_a_resume_knows_them(tmp_path: Path) -> None:
    chosen = suite(repetitions=3)
    plan = schedule.plan(chosen)
    run = execution(tmp_path, chosen, Made({"native": [1.0] * 9, "docker": [1.0] * 9})).run
    for planned in plan[:2]:  # as an earlier part of the run recorded them: 30 s each
        run.append(TrialRecord("r1", planned.seq, planned.platform, "cpu", planned.repetition, status="ok",
                               duration_s=30.0))
    resumed = execution(tmp_path, chosen, Made({"native": [3000.0] * 9, "docker": [2990.0] * 9}), run)
    seen = {(r.platform, r.workload) for r in run.records()}
    resumed.execute("auto")
    eta = resumed.eta
    for platform, workload in seen:  # what the resumed run was told by the records before it
        assert 30.0 in eta.seconds[(platform, workload)]
    todo = [replace(plan[-1], seq=99)]
    learned = eta.seconds[(plan[-1].platform, "cpu")]
    assert eta.remaining_s(todo) == pytest.approx(sum(learned) / len(learned))
