"""The host's noise floor: how much the same fixed CPU work varies between repetitions right
now, on the instances' CPUs, natively (probes/noisefloor.py measures it before a run's first
trial), and what that lets a run resolve.

With a trial-to-trial coefficient of variation `cv`, the 95 % interval of a median of n trials
is about ±1.96·cv/√n of it, and two cells of n trials each can only be told apart when they
differ by more than about 1.96·cv·√(2/n). These are normal approximations: the floor is a
guide to what a run can show, not a statistic any verdict is made of.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from bench.definitions.suite import KINDS, Precision

Z95 = 1.96


@dataclass(frozen=True)
class NoiseFloor:
    cv: float  # of the calibration's repetitions
    repetitions: int
    seconds_each: float  # the mean duration of one repetition
    cpus: str  # the CPUs it ran on ("1", "2,3")
    how: str
    # What other processes took of those CPUs meanwhile: a steady neighbour slows the loop without
    # making it vary, which the CV alone would not show. None: not measured.
    foreign_pct: float | None = None

    def half_width(self, n: int) -> float:
        """The relative half-width of a median's 95 % interval from n trials of this noise."""
        return Z95 * self.cv / math.sqrt(n)

    def resolvable(self, n: int) -> float:
        """The smallest relative difference between two cells of n trials each that shows."""
        return Z95 * self.cv * math.sqrt(2 / n)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NoiseFloor:
        foreign = data.get("foreign_pct")
        return cls(float(data["cv"]), int(data["repetitions"]), float(data["seconds_each"]), str(data["cpus"]),
                   str(data.get("how", "")), None if foreign is None else float(foreign))



def precision_warnings(rule: Precision | None, floor: NoiseFloor) -> list[str]:
    """Each [precision] target tighter than this noise lets the cap's trials reach."""
    if rule is None:
        return []
    reachable = floor.half_width(rule.max_repetitions)
    return [f"[precision] {kind} = {target:.1%} is tighter than the noise floor allows at {rule.max_repetitions} "
            f"repetitions (about ±{reachable:.1%}): its cells may run to the cap"
            for kind in KINDS if (target := getattr(rule, kind)) < reachable]
