"""The disturbance figure's arithmetic on recorded /proc/stat snapshots: busy time on the
instance's CPUs (steal included, guest time not twice), minus the instance's and its engine's,
as a share of the window; the threshold; a window too short for the ticks."""

from __future__ import annotations

import pytest

from bench.host import cpustat
from bench.model.sample import SampleSink
from bench.probes import disturbance
from bench.probes.disturbance import DISTURBED_PCT, Disturbance, DisturbanceProbe

# Two snapshots of a 2-CPU host 2 s apart (USER_HZ 100): CPU 1 ran 251 ticks busy, 10 of them
# steal; 60 of the user ticks were a guest's (already inside user: not added again).
BEFORE = """cpu  1000 0 500 8000 10 0 5 20 60 0
cpu0 600 0 300 4000 5 0 3 10 0 0
cpu1 400 0 200 4000 5 0 2 10 60 0
intr 12345
ctxt 999
"""
AFTER = """cpu  1250 0 560 8150 10 0 7 30 120 0
cpu0 650 0 320 4130 5 0 4 10 0 0
cpu1 600 0 240 4020 5 0 3 20 120 0
intr 12399
"""


def test_proc_stat_is_read_per_cpu_and_in_total() -> None:
    before, after = cpustat.parse(BEFORE), cpustat.parse(AFTER)
    assert sorted(before) == [0, 1]
    used = after[1].minus(before[1])
    assert (used.user, used.system, used.softirq, used.steal, used.idle) == (200, 40, 1, 10, 20)
    assert used.busy == 251 and used.total == 271
    assert cpustat.parse_total(AFTER).steal == 30
    assert cpustat.summed(after, (0, 1)).user == 1250
    with pytest.raises(ValueError):
        cpustat.parse_total("intr 1\n")


def test_a_short_line_of_an_old_kernel_reads_as_zeros() -> None:
    assert cpustat.parse("cpu0 10 0 5 100\n")[0] == cpustat.CpuTicks(10, 0, 5, 100)


def figure(busy_s: float, instance_s: float, engine_s: float = 0.0, steal_s: float = 0.0, window_s: float = 2.0,
           cpus: tuple[int, ...] = (1,)) -> Disturbance:
    return Disturbance(cpus, window_s, busy_s, steal_s, instance_s, engine_s, ())


def test_what_ran_beside_the_instance_is_foreign() -> None:
    quiet = figure(busy_s=2.0, instance_s=1.98)
    assert quiet.foreign_pct == pytest.approx(1.0) and quiet.disturbed is False
    shared = figure(busy_s=2.0, instance_s=1.0)  # a busy loop took half of the CPU
    assert shared.foreign_pct == pytest.approx(50.0) and shared.disturbed is True
    assert "50.0 % of CPU 1's time over 2.00 s went to other processes" in shared.describe()


def test_the_engine_is_the_platforms_and_steal_is_foreign() -> None:
    engine = figure(busy_s=2.0, instance_s=1.6, engine_s=0.35)
    assert engine.foreign_pct == pytest.approx(2.5) and not engine.disturbed
    stolen = figure(busy_s=2.0, instance_s=1.5, steal_s=0.5)
    assert stolen.steal_pct == pytest.approx(25.0) and stolen.foreign_pct == pytest.approx(25.0)


def test_the_figure_never_goes_below_zero_and_scales_with_the_cpus() -> None:
    # ns-precise cgroup time against whole ticks can exceed the busy ticks a little
    assert figure(busy_s=1.0, instance_s=1.004).foreign_pct == 0.0
    two = figure(busy_s=4.0, instance_s=3.0, cpus=(2, 3))
    assert two.foreign_pct == pytest.approx(25.0)


def test_the_threshold_is_inclusive() -> None:
    at = figure(busy_s=2.0, instance_s=2.0 - 2.0 * DISTURBED_PCT / 100)
    assert at.foreign_pct == pytest.approx(DISTURBED_PCT) and at.disturbed is True


def test_a_window_under_the_ticks_resolution_is_not_judged() -> None:
    brief = figure(busy_s=0.01, instance_s=0.0, window_s=0.05)
    assert brief.disturbed is None and "not judged" in brief.describe()
    sink = SampleSink("native", "hello", "none", {})
    brief.record(sink)
    assert sink.samples == []


def test_the_samples_it_records() -> None:
    sink = SampleSink("native", "cpu", "none", {})
    Disturbance((1,), 2.0, 2.0, 0.1, 1.5, 0.0, (2400.0, 3100.0)).record(sink)
    assert {s.metric: (round(float(s.value), 3), s.unit) for s in sink.samples} == {
        "foreign_cpu_pct": (25.0, "%"), "steal_pct": (5.0, "%"), "cpu_mhz_min": (2400.0, "MHz"),
        "cpu_mhz_max": (3100.0, "MHz")}


def test_the_probe_takes_the_window_from_two_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshots = iter([cpustat.parse(BEFORE), cpustat.parse(AFTER)])
    engines = iter([{10: 5.0, 11: 1.0}, {10: 5.2, 12: 0.1}])  # pid 12 started in the window
    clock = iter([1_000_000_000, 3_000_000_000])
    monkeypatch.setattr(cpustat, "snapshot", lambda: next(snapshots))
    monkeypatch.setattr(disturbance, "engine_cpu_s", lambda: next(engines))
    monkeypatch.setattr(disturbance.time, "monotonic_ns", lambda: next(clock))
    monkeypatch.setattr(cpustat, "frequency_mhz", lambda cpu: None)
    probe = DisturbanceProbe((1,), harness_cpus=(0,))
    probe.start()
    found = probe.finish(instance_s=1.5)
    assert found.window_s == 2.0 and not found.harness_shares
    assert found.busy_s == pytest.approx(251 * cpustat.TICK_S) and found.steal_s == pytest.approx(10 * cpustat.TICK_S)
    assert found.engine_s == pytest.approx(0.3)
    assert found.foreign_s == pytest.approx(251 * cpustat.TICK_S - 1.8)


def test_a_harness_on_the_same_cpus_is_said() -> None:
    shared = DisturbanceProbe((0,), harness_cpus=(0,))
    assert shared.harness_shares
    assert "the harness runs on these CPUs too" in Disturbance((0,), 2.0, 1.0, 0.0, 0.5, 0.0, (), True).describe()
