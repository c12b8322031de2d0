"""A density trial against scripted instances: N kept running, then all torn down."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.definitions.workload import Workload
from bench.model.trial import TrialRecord
from bench.platforms.base import Instance, TrialContext
from bench.run import density
from tests.unit.fakes import ScriptedDriver

DENSITY = Workload("density", "d", (), ("sleep", "3600"), None, 2.0, Path("x"), 1.0, kind="density")


class FailingSecond(ScriptedDriver):
    def prepare(self, ctx: TrialContext) -> Instance:
        instance = super().prepare(ctx)
        if ctx.instance == 2:
            instance.lines = ["booting, never ready"]  # type: ignore[attr-defined]
        return instance


@pytest.fixture(autouse=True)
def no_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(density, "SETTLE_S", 0.0)


def run(driver: ScriptedDriver, n: int = 3) -> TrialRecord:
    ctx = TrialContext("r1", 4, DENSITY, None)  # type: ignore[arg-type]
    record = TrialRecord("r1", 4, "fake", "density")
    return density.run_density(driver, ctx, record, n, timeout_s=1.0)


def test_n_instances_run_at_once_and_are_all_removed() -> None:
    driver = ScriptedDriver(["@@BENCH READY density 1"])
    record = run(driver)
    assert record.status == "ok", record.reason
    assert [i.ctx.name("fake") for i in driver.instances] == [f"vmctb-r1-4-fake-{k}" for k in (1, 2, 3)]
    assert all(i.torn_down == 1 for i in driver.instances)
    found = {s.metric: s for s in record.samples}
    assert {"density_mem_mib", "density_pss_mib", "density_start_first_s", "density_start_last_s",
            "density_disk_mib"} <= set(found)
    assert found["density_disk_mib"].value == 1.0  # the fake layer: 1 MiB each
    # Every instance stands for this test process, so the summed PSS over 3 is about one process.
    assert found["density_pss_mib"].value > 1
    assert found["density_start_first_s"].metadata["instances"] == 3
    assert record.facts["instances"] == "3" and len(record.facts["start_s"].split()) == 3


def test_an_instance_that_never_gets_ready_fails_the_trial_and_all_go() -> None:
    driver = FailingSecond(["@@BENCH READY density 1"])
    record = run(driver)
    assert record.status == "failed"
    assert record.reason.startswith("instance 2 of 3: ")
    assert len(driver.instances) == 2 and all(i.torn_down == 1 for i in driver.instances)
    assert record.console_tail == ["booting, never ready"]
    assert [s.metric for s in record.samples] == ["density_teardown_s"]  # no figure but the teardown's time
