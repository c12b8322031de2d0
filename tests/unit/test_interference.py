"""Interference workloads: parsed, resolved and refused; the trial against scripted instances
(a fresh neighbour per stress, the order turning with the repetition, a DNR kept as a figure,
memory stresses refused where they would fill the host); the report's matrix and verdict."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.analysis.degradation import degradation
from bench.definitions import interference, suite as suites, workload
from bench.definitions.interference import Interference, condition_in, dimensions_beside
from bench.definitions.workload import Workload
from bench.errors import BenchError
from bench.model import registry
from bench.model.resources import place_pair
from bench.model.sample import Sample
from bench.model.trial import TrialRecord
from bench.platforms.base import Instance, TrialContext
from bench.report import neighbours
from bench.run import interference as trial_module
from bench.run.schedule import estimate_s
from bench.rundir.info import RunInfo
from bench.rundir.runs import LoadedRun
from tests.conftest import write_workload
from tests.unit.fakes import ScriptedDriver, ScriptedInstance
from tests.unit.test_trial import CPU, result_line

STRESS_TOML = """name = "{name}"
kind = "stress"
description = "d"
packages = ["stress-ng"]
command = ["stress-ng", "--cpu", "0", "--timeout", "60s"]
timeout_s = 90
expected_s = 60
"""
NOISY_TOML = """name = "noisy"
kind = "interference"
description = "d"
victim = "{victim}"
stresses = {stresses}
timeout_s = 60
"""


def stress(name: str) -> Workload:
    return Workload(name, "d", ("stress-ng",), ("stress-ng",), None, 9.0, Path("x"), 5.0, kind="stress")


PAIR = Interference(Workload("noisy", "d", (), (), None, 9.0, Path("x"), kind="interference", victim="cpu",
                             stresses=("stress-cpu", "stress-fork")),
                    CPU, (stress("stress-cpu"), stress("stress-fork")))


class NoisyDriver(ScriptedDriver):
    """The victim scores 1000 alone and 600 while a neighbour runs; `failing` conditions' victims fail."""

    def __init__(self, failing: tuple[int, ...] = (), neighbour_facts: dict[str, str] | None = None,
                 neighbour_ends: bool = False) -> None:
        super().__init__([])
        self.failing, self.neighbour_facts, self.neighbour_ends = failing, neighbour_facts or {}, neighbour_ends

    def running_neighbours(self) -> list[ScriptedInstance]:
        return [i for i in self.instances if i.ctx.workload.kind == "stress" and not i.torn_down]

    def prepare(self, ctx: TrialContext) -> Instance:
        if ctx.workload.kind == "stress":
            lines = [f"@@BENCH READY {ctx.workload.name} 1"]
            if self.neighbour_ends:
                lines.append(result_line("stress-ng: info: out of memory", 2, ctx.workload.name))
            instance = ScriptedInstance(ctx, lines, False, 0.0)
            instance.facts.update(self.neighbour_facts)
        else:
            score = 600 if self.running_neighbours() else 1000
            code = 1 if ctx.instance in self.failing else 0
            instance = ScriptedInstance(ctx, ["@@BENCH READY cpu 1", result_line(f"events per second: {score}", code)],
                                        False, 0.0)
        self.instances.append(instance)
        return instance


def run(driver: NoisyDriver, repetition: int = 1, pair: Interference = PAIR) -> TrialRecord:
    ctx = TrialContext("r1", 3, pair.workload, None)  # type: ignore[arg-type]
    record = TrialRecord("r1", 3, "fake", "noisy", repetition)
    placement = place_pair("same-cpu", 1, 256, [0, 1])
    return trial_module.run_interference((driver, driver), ctx, record, pair, placement, timeout_s=2.0)


def values(record: TrialRecord) -> dict[str, float]:
    """metric@dimension=value → value: `score@stress=fork`."""
    return {s.metric + "".join(f"@{k}={v}" for k, v in s.dimensions.items()): float(s.value) for s in record.samples}


def test_the_victim_alone_then_beside_each_stress_with_a_fresh_neighbour_each() -> None:
    driver = NoisyDriver()
    record = run(driver)
    assert record.ok, record.reason
    found = values(record)
    assert found["score"] == 1000 and found["score@stress=cpu"] == 600 and found["score@stress=fork"] == 600
    assert found["victim_completed@stress=cpu"] == found["neighbour_alive@stress=fork"] == 1.0
    neighbours_made = [i for i in driver.instances if i.ctx.workload.kind == "stress"]
    assert [n.ctx.workload.name for n in neighbours_made] == ["stress-cpu", "stress-fork"]
    assert all(i.torn_down == 1 for i in driver.instances)
    assert len({i.ctx.name("fake") for i in driver.instances}) == len(driver.instances) == 5
    assert record.facts["conditions"] == "alone cpu fork" and record.facts["victim"] == "cpu"
    score = next(s for s in record.samples if s.metric == "score" and s.dimensions == {"stress": "fork"})
    assert score.workload == "noisy" and score.metadata["condition"] == "fork"


def test_the_order_of_conditions_turns_with_the_repetition() -> None:
    assert run(NoisyDriver(), repetition=2).facts["conditions"] == "cpu fork alone"
    assert run(NoisyDriver(), repetition=4).facts["conditions"] == "alone cpu fork"


def test_a_victim_that_fails_beside_a_stress_did_not_complete_and_the_trial_goes_on() -> None:
    record = run(NoisyDriver(failing=(6,)))  # the third condition's victim: fork
    assert record.ok, record.reason
    found = values(record)
    assert found["victim_completed@stress=fork"] == 0.0 and "score@stress=fork" not in found
    assert "exited with code 1" in record.facts["victim_fork"]


def test_a_victim_that_fails_alone_fails_the_trial_and_every_neighbour_goes() -> None:
    driver = NoisyDriver(failing=(2,))
    record = run(driver)
    assert record.status == "failed" and record.reason.startswith("fork: the victim alone: ")
    assert all(i.torn_down == 1 for i in driver.instances)


def test_memory_stresses_are_refused_without_headroom_or_without_a_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    pair = replace(PAIR, stresses=(stress("stress-memory"), stress("stress-cpu")))
    monkeypatch.setattr(trial_module, "require_memory_headroom",
                        lambda *a: (_ for _ in ()).throw(BenchError("memory stress refused: 10 MiB available")))
    driver = NoisyDriver()
    record = run(driver, pair=pair)
    assert record.ok and record.facts["refused_memory"] == "memory stress refused: 10 MiB available"
    assert [i.ctx.workload.name for i in driver.instances if i.ctx.workload.kind == "stress"] == ["stress-cpu"]
    assert "score@stress=memory" not in values(record)

    monkeypatch.setattr(trial_module, "require_memory_headroom", lambda *a: None)
    driver = NoisyDriver(neighbour_facts={"memory_limit": "no memory limit (no cgroup)"})
    record = run(driver, pair=pair)
    assert record.facts["refused_memory"].startswith("memory stress refused: the neighbour has no memory limit")
    assert all(i.torn_down == 1 for i in driver.instances) and "score@stress=cpu" in values(record)


def test_a_condition_is_a_dimension_of_the_victims_figures_and_comes_back_out() -> None:
    assert dimensions_beside({"clients": "10"}, "alone") == {"clients": "10"}
    assert dimensions_beside({"clients": "10"}, "fork") == {"clients": "10", "stress": "fork"}
    assert condition_in({"stress": "disk"}) == "disk" and condition_in({"clients": "1"}) == "alone"


def test_an_interference_workload_resolves_and_its_mistakes_are_one_line(workloads_dir: Path) -> None:
    write_workload(workloads_dir, "cpu")
    for name in ("stress-cpu", "stress-fork"):
        (workloads_dir / name).mkdir()
        (workloads_dir / name / "workload.toml").write_text(STRESS_TOML.format(name=name))
    noisy = workloads_dir / "noisy"
    noisy.mkdir()
    noisy.joinpath("workload.toml").write_text(NOISY_TOML.format(victim="cpu", stresses='["stress-cpu", "stress-fork"]'))
    pair = interference.resolve(workload.load("noisy"))
    assert pair.conditions == ("alone", "cpu", "fork") and not pair.workload.baked
    planned = pair.as_planned()
    assert planned.headline_metric == "score" and planned.expected_s == 3 * pair.victim.expected_s
    # Three victims and two neighbours started: five times the platform's overhead.
    overhead = registry.get("vm").overhead("tcg")
    assert estimate_s("vm", planned, "tcg", 5) == pytest.approx(planned.expected_s + 5 * overhead)
    for victim, stresses, message in [
        ("stress-cpu", '["stress-fork"]', "victim 'stress-cpu' is a stress workload"),
        ("cpu", '["cpu"]', "'cpu' in stresses is a single workload, not kind \"stress\""),
        ("cpu", '["stress-cpu", "stress-cpu"]', "stresses: names a stress twice"),
        ("cpu", '["nope"]', "unknown workload 'nope'"),
    ]:
        noisy.joinpath("workload.toml").write_text(NOISY_TOML.format(victim=victim, stresses=stresses))
        with pytest.raises(BenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
            interference.resolve(workload.load("noisy"))


def test_a_suite_refuses_a_stress_on_its_own(tmp_path: Path, workloads_dir: Path) -> None:
    (workloads_dir / "stress-cpu").mkdir()
    (workloads_dir / "stress-cpu" / "workload.toml").write_text(STRESS_TOML.format(name="stress-cpu"))
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\nplatforms = ["native"]\nworkloads = ["stress-cpu"]\n')
    with pytest.raises(BenchError, match="'stress-cpu' is a stress: it runs only as an interference"):
        suites.load(str(path))


def record(platform: str, repetition: int, alone: float, beside: dict[str, float | None]) -> TrialRecord:
    r = TrialRecord("r1", repetition, platform, "noisy", repetition, status="ok",
                    accel="tcg" if platform == "vm" else "",
                    facts={"conditions": "alone " + " ".join(beside), "placement": "same-cpu: …", "victim": "cpu"})
    accel = r.accel

    def add(metric: str, value: float, unit: str = "events/s", better: str = "higher", condition: str = "alone") -> None:
        r.samples.append(Sample(metric, value, unit, better, platform, "noisy", accel,  # type: ignore[arg-type]
                                dimensions=dimensions_beside({}, condition)))
    add("score", alone)
    for condition, value in beside.items():
        add("victim_completed", float(value is not None), "bool", condition=condition)
        if value is not None:
            add("score", value, condition=condition)
        add("neighbour_alive", 1.0, "bool", condition=condition)
    return r


def loaded(records: list[TrialRecord], kinds: dict[str, str] | None = None) -> LoadedRun:
    """Without `kinds`, a run from before run.json named its workloads' kinds."""
    info = RunInfo.from_json({"run_id": "r1", "plan": [], "kinds": kinds or {}, "suite": {
        "name": "noisy", "description": "", "platforms": ["native", "docker", "vm"], "workloads": ["noisy"]}})
    return LoadedRun(Path("r1"), info, records)


def test_the_section_shows_the_workloads_whose_kind_run_json_names_interference() -> None:
    records = [record(p, k, 1000 + k, {"cpu": 400 + k}) for p in ("native", "docker") for k in range(1, 4)]
    assert neighbours.section(loaded(records, {"noisy": "interference", "cpu": "single"})) is not None
    assert neighbours.section(loaded(records, {"noisy": "single"})) is None  # its facts alone do not make it one
    assert neighbours.section(loaded(records)) is not None  # an older run: told by its trials' facts


def test_the_matrix_holds_each_platforms_degradation_and_a_dnr() -> None:
    records = [record("native", k, 1000 + k, {"cpu": 400 + k, "fork": 990 + k}) for k in range(1, 4)]
    records += [record("docker", k, 1000 + k, {"cpu": 400 + k, "fork": None}) for k in range(1, 4)]
    section = neighbours.section(loaded(records))
    assert section is not None and len(section.matrices) == 1
    matrix = section.matrices[0]
    assert matrix.columns == ("native", "docker") and [s for s, _ in matrix.rows] == ["cpu", "fork"]
    cpu_native, cpu_docker = matrix.rows[0][1]
    assert cpu_native.main.startswith("+59.") and cpu_native.shade == "d3"
    fork_native, fork_docker = matrix.rows[1][1]
    assert fork_native.shade == "d0" and fork_docker.main == "DNR" and fork_docker.shade == "dnr"
    assert "not measurable here" in section.findings[0]  # no VM in this run


@pytest.mark.parametrize("vm_loss, container_loss, verdict", [
    (2, 40, "supported — the VM's worst case was smaller: vm-minimal/tcg over docker"),
    (40, 2, "contradicted — the container's worst case was smaller: docker over vm-minimal/tcg"),
    (20, 20, "not settled — the worst-case intervals overlap: vm-minimal/tcg against docker"),
])
def test_the_vm_claim_is_judged_from_the_worst_cases_and_names_its_platforms(vm_loss: int, container_loss: int,
                                                                            verdict: str) -> None:
    records = []
    for k in range(1, 6):
        jitter = k % 3 - 1
        records.append(record("vm", k, 1000 + jitter, {"cpu": 1000 - 10 * vm_loss + jitter}))
        records.append(record("docker", k, 1000 + jitter, {"cpu": 1000 - 10 * container_loss + jitter}))
    section = neighbours.section(loaded(records))
    assert section is not None
    assert verdict in section.findings[0], section.findings[0]
    assert "docker lost most to cpu" in section.findings[0] and "TCG" in section.findings[0]


def test_a_latency_cell_reads_as_its_p99_ratio_and_a_partial_completion_is_said() -> None:
    d = degradation([100.0, 101.0, 99.0], [230.0, 231.0], "lower", attempted=3)
    cell = neighbours._cell(d, "", "lower")
    assert cell.main.startswith("2.3") and "×" in cell.main and cell.main.endswith(", 2 of 3 completed")
    assert cell.shade == "d3"


def test_a_neighbour_whose_stress_ended_early_is_said_with_its_exit() -> None:
    record = run(NoisyDriver(neighbour_ends=True))
    assert record.ok and values(record)["neighbour_alive@stress=fork"] == 0.0
    assert record.facts["neighbour_fork"] == "the stress exited with code 2 after 2.5 s: stress-ng: info: out of memory"


def test_a_suite_narrows_a_server_victims_client_values_by_the_victims_name(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\nplatforms = ["native"]\nworkloads = ["noisy-redis"]\n\n[values.all]\nredis = [10]\n')
    chosen = suites.load(str(path))
    redis = interference.resolve(workload.load("noisy-redis")).victim
    assert chosen.workload_for("native", redis).client.values == (10,)  # type: ignore[union-attr]
