"""The order of a run's trials, fixed before the first one starts.

Every repetition runs every workload on every platform; within a repetition each workload's
platform order is shuffled with the suite's seed, so slow drift of the host (thermal, caches,
other tenants) is spread over all platforms alike instead of favouring whichever runs first.
Warm-up repetitions come first; their trials are recorded and flagged, not counted.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from bench.definitions.suite import Suite
from bench.definitions.workload import Workload
from bench.model import registry
from bench.model.registry import label
from bench.model.trial import PlannedTrial
from bench.run import density


def plan(suite: Suite, once: frozenset[str] = frozenset()) -> list[PlannedTrial]:
    """`once`: workloads whose figures are the same in every trial (what the exposure probe
    finds): one measured trial per platform, in the first measured repetition, no warm-up."""
    rng = random.Random(suite.seed)
    trials: list[PlannedTrial] = []
    for repetition in range(1, suite.warmup + suite.repetitions + 1):
        for workload in suite.workloads:
            if workload in once and repetition != suite.warmup + 1:
                continue
            if repetition <= suite.warmup and suite.warmup_workloads and workload not in suite.warmup_workloads:
                continue
            order = [p for p in suite.platforms if suite.runs(p, workload)]
            rng.shuffle(order)
            for platform in order:
                trials.append(PlannedTrial(len(trials) + 1, repetition, repetition <= suite.warmup,
                                           platform, workload))
    return trials


def measured_repetitions(plan: list[PlannedTrial], platform: str, workload: str) -> int:
    return sum(1 for t in plan if t.platform == platform and t.workload == workload and not t.warmup)


def extra_repetition(suite: Suite, plan: list[PlannedTrial], noisy: dict[tuple[str, str], str]) -> list[PlannedTrial]:
    """One more repetition of each noisy (platform, workload) → reason, interleaved like the
    planned ones: per workload, its platforms in a shuffled order (seeded by the suite and the
    plan's length, so a resumed run adds the same trials)."""
    rng = random.Random(f"{suite.seed}/{len(plan)}")
    added: list[PlannedTrial] = []
    for workload in suite.workloads:
        platforms = [p for p in suite.platforms if (p, workload) in noisy]
        rng.shuffle(platforms)
        for platform in platforms:
            repetition = max(t.repetition for t in plan if t.workload == workload) + 1
            added.append(PlannedTrial(len(plan) + len(added) + 1, repetition, False, platform, workload,
                                      noisy[(platform, workload)]))
    return added


# What one trial of each shape (WorkloadKind.trial) costs: (workload, a platform's overhead per
# instance, the suite's density instances) → seconds.
TRIAL_COST: dict[str, Callable[[Workload, float, int], float]] = {
    "single": lambda workload, overhead, _: workload.expected_s + overhead,
    "density": lambda _, overhead, instances: instances * (overhead + density.SETTLE_S),
    # A victim per condition, a neighbour per stress.
    "interference": lambda workload, overhead, _: workload.expected_s + (2 * len(workload.stresses) + 1) * overhead,
}


def estimate_s(platform: str, workload: Workload, vm_accel: str, density_instances: int) -> float:
    return TRIAL_COST[workload.kind_traits.trial](workload, registry.get(platform).overhead(vm_accel), density_instances)


def plan_text(suite: Suite, trials: list[PlannedTrial], loaded: dict[str, Workload], vm_accel: str,
              accel_note: str) -> str:
    """`bench run --dry-run`: the plan, trial by trial, and what it should take."""
    probes = once(loaded)
    measured = [t for t in trials if t.workload not in probes and not t.warmup]
    warmups = sum(t.warmup for t in trials)
    single = len(trials) - len(measured) - warmups
    pairs = len(measured) // suite.repetitions
    rule = suite.precision
    repetitions = (f"{suite.repetitions} to {rule.max_repetitions} repetitions" if rule else f"{suite.repetitions} repetitions")
    lines = [f"suite {suite.name}: {len(trials)} trials ({warmups} warm-up"
             + (f" ({', '.join(suite.warmup_workloads)} only)" if suite.warmup_workloads and warmups else "")
             + f" + {repetitions} of {pairs} platform × workload pairs"
             + (f", and {single} probe trials once per platform" if single else "") + f"), seed {suite.seed}"]
    if rule:
        lines.append(f"precision: at least {suite.repetitions} and at most {rule.max_repetitions} measured repetitions "
                     f"per pair; more rounds only for pairs whose 95% interval is wider than ±{rule.throughput:.0%} "
                     f"(throughput, of the ratio to native), ±{rule.memory:.0%} (memory), ±{rule.time:.0%} "
                     "(times); [settle] waits end once steady")
    def seconds_of(t: PlannedTrial) -> float:
        return estimate_s(t.platform, suite.workload_for(t.platform, loaded[t.workload]), vm_accel, suite.density_instances)
    total = 0.0
    for t in trials:
        seconds = seconds_of(t)
        total += seconds
        where = label(t.platform, vm_accel)
        lines.append(f"  {t.seq:>4}  rep {t.repetition}{' (warm-up)' if t.warmup else '          '}  "
                     f"{where:<14} {t.workload:<10} ~{seconds:.0f} s")
    how = f"workloads' expected_s + per-platform overhead; VMs {accel_note}"
    if rule:
        per_round = sum(seconds_of(t) for t in measured) / suite.repetitions
        capped = total + per_round * (rule.max_repetitions - suite.repetitions)
        lines.append(f"estimated total: {_minutes(total)} at the minimum, {_minutes(capped)} if every pair "
                     f"runs to the cap ({how})")
    else:
        lines.append(f"estimated total: {_minutes(total)} ({how})")
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def once(workloads: dict[str, Workload]) -> frozenset[str]:
    """The workloads measured in one trial per platform: the deterministic probes."""
    return frozenset(name for name, w in workloads.items() if w.kind_traits.once_per_platform)


def image_skips(suite: Suite, workloads: dict[str, Workload]) -> dict[tuple[str, str], str]:
    """(platform, workload) → why that platform cannot run that workload from a user's image."""
    return {(p, name): reason for name, w in workloads.items() if w.user_image for p in suite.platforms
            if (reason := registry.get(p).no_user_image) and suite.runs(p, name)}


def without(suite: Suite, skips: dict[tuple[str, str], str]) -> Suite:
    """The suite with those pairs left out of its plan (through `only`, which run.json keeps)."""
    only = dict(suite.only)
    for platform, workload in skips:
        only[platform] = tuple(w for w in only.get(platform, suite.workloads) if w != workload)
    return replace(suite, only=only)


def skip_lines(skips: dict[tuple[str, str], str]) -> list[str]:
    return [f"skipped: {platform} does not run {workload} ({reason})" for (platform, workload), reason in skips.items()]

