"""The order of a run's trials, fixed before the first one starts.

Every repetition runs every workload on every platform; within a repetition each workload's
platform order is shuffled with the suite's seed, so slow drift of the host (thermal, caches,
other tenants) is spread over all platforms alike instead of favouring whichever runs first.
Warm-up repetitions come first; their trials are recorded and flagged, not counted.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from bench.suite import Suite


@dataclass(frozen=True)
class PlannedTrial:
    seq: int  # 1-based position in the run
    repetition: int  # 1-based; warm-up repetitions first
    warmup: bool
    platform: str
    workload: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedTrial:
        return cls(**data)


def plan(suite: Suite) -> list[PlannedTrial]:
    rng = random.Random(suite.seed)
    trials: list[PlannedTrial] = []
    for repetition in range(1, suite.warmup + suite.repetitions + 1):
        for workload in suite.workloads:
            order = list(suite.platforms)
            rng.shuffle(order)
            for platform in order:
                trials.append(PlannedTrial(len(trials) + 1, repetition, repetition <= suite.warmup,
                                           platform, workload))
    return trials
