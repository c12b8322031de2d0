"""An interference workload resolved: its victim and its stresses as workloads of their own.

The victim is a measured workload (`cpu`, `randread`, `redis`, ...); each stress is a `stress`
workload the neighbour instance runs. A condition is one of them beside the victim, or none:
the victim alone, the baseline of every degradation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from bench.definitions.workload import Workload, load
from bench.errors import BenchError
from bench.model.dimensions import STRESS

ALONE = "alone"
STRESS_PREFIX = "stress-"
# Stresses that fill memory (their own or the page cache): the host's headroom is checked first.
MEMORY_FILLING = ("memory", "pagecache")


def condition_of(stress: Workload) -> str:
    """What a stress is called in figures and the report: `stress-fork` → `fork`."""
    return stress.name.removeprefix(STRESS_PREFIX)


def dimensions_beside(dimensions: Mapping[str, str], condition: str) -> dict[str, str]:
    """The victim's figure's dimensions in one condition: its own alone, with stress=fork beside fork."""
    return dict(dimensions) if condition == ALONE else {**dimensions, STRESS: condition}


def condition_in(dimensions: Mapping[str, str]) -> str:
    """The inverse of dimensions_beside: the condition a figure was measured in."""
    return dimensions.get(STRESS, ALONE)


def without_condition(dimensions: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in dimensions.items() if k != STRESS}


@dataclass(frozen=True)
class Interference:
    workload: Workload  # kind "interference"
    victim: Workload
    stresses: tuple[Workload, ...]

    @property
    def conditions(self) -> tuple[str, ...]:
        return (ALONE, *(condition_of(s) for s in self.stresses))

    def stress(self, condition: str) -> Workload | None:
        return next((s for s in self.stresses if condition_of(s) == condition), None)

    def parts(self) -> list[Workload]:
        """The workloads whose commands the image must hold."""
        return [self.victim, *self.stresses]

    def as_planned(self) -> Workload:
        """The interference workload as plans, estimates and reports see it: measured by its
        victim's figures (its headline, its client), for every condition; networked when the
        victim or a neighbour is (the platform's network path is checked before the run)."""
        victim = self.victim
        return replace(self.workload, score=victim.score, metrics=victim.metrics, client=victim.client,
                       network=victim.network or any(s.network for s in self.stresses),
                       expected_s=len(self.conditions) * victim.expected_s)


def load_for_run(names: tuple[str, ...] | list[str], root: Path | None = None) -> dict[str, Workload]:
    """A suite's workloads by name, each interference one as_planned."""
    loaded = {name: load(name, root) for name in names}
    return {name: resolve(w, root).as_planned() if w.kind_traits.composite else w for name, w in loaded.items()}


def resolve(workload: Workload, root: Path | None = None) -> Interference:
    """Its victim and stresses loaded and checked: one line naming the file where they are not."""
    where = f"{workload.source}: "
    victim = load(workload.victim, root)
    if not victim.kind_traits.victim:
        raise BenchError(f"{where}victim {victim.name!r} is a {victim.kind} workload; a victim is a single one "
                         "whose figures the neighbour may take")
    if victim.score is None and not victim.metrics:
        raise BenchError(f"{where}victim {victim.name!r} gives no figure of its own ([score] or [metrics])")
    stresses = tuple(load(name, root) for name in workload.stresses)
    for stress in stresses:
        if stress.kind_traits.measured:
            raise BenchError(f"{where}{stress.name!r} in stresses is a {stress.kind} workload, not kind \"stress\"")
    if victim.client is not None and victim.client.parameter == STRESS:
        raise BenchError(f"{where}victim {victim.name!r} counts its client's values as {STRESS!r}, the dimension "
                         "that keeps conditions apart")
    if ALONE in (condition_of(s) for s in stresses):
        raise BenchError(f"{where}a stress may not be called {ALONE!r}")
    return Interference(workload, victim, stresses)
