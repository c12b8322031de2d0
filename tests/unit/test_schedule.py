"""The plan: every repetition covers every platform × workload once, shuffled by the seed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.definitions.suite import Suite
from bench.definitions.workload import Workload
from bench.run.schedule import extra_repetition, measured_repetitions, plan, plan_text


def suite(seed: int = 1, **kw: object) -> Suite:
    fields = dict(name="t", description="", platforms=("native", "docker", "vm"),
                  workloads=("boot", "cpu"), repetitions=5, warmup=1, seed=seed)
    fields.update(kw)
    return Suite(**fields)  # type: ignore[arg-type]


def test_every_repetition_has_every_pair_once() -> None:
    trials = plan(suite())
    assert len(trials) == 6 * 3 * 2
    assert [t.seq for t in trials] == list(range(1, len(trials) + 1))
    for repetition in range(1, 7):
        pairs = Counter((t.platform, t.workload) for t in trials if t.repetition == repetition)
        assert set(pairs.values()) == {1} and len(pairs) == 6


def test_warmups_come_first_and_are_flagged() -> None:
    trials = plan(suite(warmup=2))
    assert all(t.warmup == (t.repetition <= 2) for t in trials)
    assert [t.warmup for t in trials] == sorted((t.warmup for t in trials), reverse=True)


def test_a_deterministic_probe_runs_once_per_platform_and_never_as_a_warm_up() -> None:
    trials = plan(suite(workloads=("boot", "exposure")), once=frozenset({"exposure"}))
    probe = [t for t in trials if t.workload == "exposure"]
    assert sorted(t.platform for t in probe) == ["docker", "native", "vm"]
    assert {(t.repetition, t.warmup) for t in probe} == {(2, False)}  # the first measured repetition
    assert len([t for t in trials if t.workload == "boot"]) == 3 * 6
    assert [t.seq for t in trials] == list(range(1, len(trials) + 1))


def test_the_seed_decides_the_order() -> None:
    orders = {tuple(t.platform for t in plan(suite(seed))) for seed in range(6)}
    assert len(orders) > 1  # shuffled, not fixed
    assert plan(suite(7)) == plan(suite(7))
    first_platforms = {t.platform for t in plan(suite(11, repetitions=30, warmup=0)) if (t.seq - 1) % 3 == 0}
    assert first_platforms == {"native", "docker", "vm"}  # no platform always runs first


def test_eta_uses_what_each_platform_and_workload_took() -> None:
    from bench.run.runner import Eta
    from bench.model.trial import TrialRecord

    trials = plan(suite(repetitions=1, warmup=0, workloads=("boot", "cpu")))
    estimates = {"boot": 1.0, "cpu": 10.0}
    eta = Eta(lambda t: estimates[t.workload])
    assert eta.remaining_text(trials) == "about 0m33s"  # the plan's estimates: 3 × 1 s + 3 × 10 s
    by = {(t.platform, t.workload): t for t in trials}
    eta.learn(TrialRecord("r", 1, "vm", "cpu", duration_s=30.0), by[("vm", "cpu")])
    eta.learn(TrialRecord("r", 2, "native", "cpu", duration_s=10.0), by[("native", "cpu")])
    # Seen: vm cpu 30 s, native cpu 10 s. Not seen: scaled by the pace so far, which starts
    # at 1 and weighs the 40 s seen against their 20 s estimate: (40 + 120) / (20 + 120).
    pace = (40 + Eta.PRIOR_S) / (20 + Eta.PRIOR_S)
    assert eta.remaining_s(trials) == pytest.approx(30 + 10 + 10 * pace + 3 * 1 * pace)
    # A short trial seen first barely moves the estimates of the others.
    quick = Eta(lambda t: estimates[t.workload])
    quick.learn(TrialRecord("r", 1, "native", "boot", duration_s=0.5), by[("native", "boot")])
    assert quick.remaining_s(trials) == pytest.approx(0.5 + (2 * 1 + 3 * 10) * (120.5 / 121))


def test_an_extra_repetition_continues_the_plan_interleaved() -> None:
    chosen = suite(seed=3, warmup=0, repetitions=2)
    trials = plan(chosen)
    noisy = {("vm", "cpu"): "score CV 6.0% > 3%", ("docker", "cpu"): "score CV 4.0% > 3%"}
    extra = extra_repetition(chosen, trials, noisy)
    assert [t.seq for t in extra] == [len(trials) + 1, len(trials) + 2]
    assert {(t.platform, t.workload, t.repetition, t.added) for t in extra} == {
        ("vm", "cpu", 3, "score CV 6.0% > 3%"), ("docker", "cpu", 3, "score CV 4.0% > 3%")}
    assert extra == extra_repetition(chosen, trials, noisy)  # a resumed run adds the same trials
    assert measured_repetitions(trials + extra, "vm", "cpu") == 3


def test_dry_run_text_estimates_the_total() -> None:
    chosen = suite(warmup=0, repetitions=1, platforms=("native", "vm"), workloads=("cpu",))
    cpu = Workload("cpu", "d", (), ("true",), None, 60.0, Path("x"), expected_s=10.0)
    text = plan_text(chosen, plan(chosen), {"cpu": cpu}, "tcg", "assumed")
    lines = text.splitlines()
    assert lines[0].startswith("suite t: 2 trials")
    assert any("vm-minimal/tcg" in line and "~19 s" in line for line in lines)
    assert lines[-1].startswith("estimated total: 0 min 29 s")  # 10.2 + 19


def test_only_limits_a_platform_to_some_workloads() -> None:
    trials = plan(suite(only={"vm": ("cpu",)}))
    assert not [t for t in trials if t.platform == "vm" and t.workload == "boot"]
    assert len([t for t in trials if t.platform == "vm"]) == 6


def test_platforms_that_cannot_run_a_user_image_are_left_out_with_why() -> None:
    from bench.run.schedule import image_skips, skip_lines, without

    mine = Workload("mine", "d", (), (), None, 30.0, Path("mine/workload.toml"), 1.0, image="me/app:1")
    debian = Workload("boot", "d", (), ("true",), None, 30.0, Path("boot/workload.toml"), 1.0)
    chosen = suite(platforms=("native", "docker", "docker-app", "vm-os", "vm"), workloads=("boot", "mine"),
                   repetitions=1, warmup=0)
    skips = image_skips(chosen, {"boot": debian, "mine": mine})
    assert sorted(skips) == [("docker-app", "mine"), ("vm-os", "mine")]
    assert skip_lines({("vm-os", "mine"): skips[("vm-os", "mine")]}) == [
        "skipped: vm-os does not run mine (it boots the image's own systemd, which a user's image need not have)"]
    trials = plan(without(chosen, skips))
    assert sorted((t.platform, t.workload) for t in trials) == sorted(
        [(p, "boot") for p in chosen.platforms] + [("native", "mine"), ("docker", "mine"), ("vm", "mine")])
