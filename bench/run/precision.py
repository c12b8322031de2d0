"""The precision rule: which platform × workload cells need another repetition.

After the planned repetitions (the suite's minimum), a cell gets another round while the 95%
interval of its headline figure is wider than the target for that kind of figure (a half-width,
as a fraction of the figure), until the suite's cap. For a throughput the interval is that of
the ratio to native, which is what the verdict reads, and native's own cell keeps going while
any ratio of its workload does, since both sides set that width. The rule reads the interval's
width only, never where the figure lies against a threshold: that would bias what is reported.
A figure below resolution (physically impossible, or an interval reaching across zero) has no
width to speak of and keeps its cell going too. A disturbed trial (probes/disturbance.py) is
set aside, not counted: a cell left with fewer counted trials than the suite's minimum gets
another round whatever its width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from bench.analysis import stats, summary
from bench.definitions.suite import Precision, Suite
from bench.definitions.workload import Workload
from bench.model import units
from bench.model.dimensions import PATH
from bench.model.sample import dimensions_text
from bench.model.series import at_dimensions
from bench.model.trial import PlannedTrial, TrialRecord
from bench.run import schedule
from bench.rundir.info import PrecisionStop

PRECISE, CAP, NO_WIDTH = "precise", "cap", "no width"


@dataclass(frozen=True)
class Standing:
    """Where one cell stands: its figure's relative half-width against the target."""

    platform: str
    workload: str
    metric: str
    n: int  # measured values so far
    half_width: float  # of the interval, as a fraction of the figure; inf when there is no width
    target: float | None  # None: the figure has no width (a digest); the minimum settles it
    against_native: bool  # the width is the ratio to native's
    below_resolution: bool = False
    dimensions: str = ""  # the metric's (a server workload's: its client's first value)

    @property
    def precise(self) -> bool:
        return self.target is None or self.half_width <= self.target

    def width_text(self) -> str:
        if self.below_resolution:
            return "below resolution"
        if math.isinf(self.half_width):
            return "no interval yet"
        return f"±{self.half_width:.1%}" + (" of the ratio to native" if self.against_native else "")

    def reason(self) -> str:
        """Why another round: what the width is against what is asked."""
        shown = at_dimensions(self.metric, self.dimensions)
        return f"{shown} {self.width_text()} > {self.target:.0%}" if self.target is not None else ""

    def expected_n(self, cap: int) -> int:
        """The repetitions this cell is expected to need: a width shrinks as 1/sqrt(n)."""
        if self.precise:
            return self.n
        if math.isinf(self.half_width) or self.n < 2:
            return cap
        assert self.target is not None
        return min(cap, max(self.n + 1, math.ceil(self.n * (self.half_width / self.target) ** 2)))

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["half_width"] = None if math.isinf(self.half_width) else self.half_width
        return data


def values(records: list[TrialRecord], platform: str, workload: str, metric: str, dimensions: dict[str, str]) -> list[float]:
    """The figure in each counted trial; a server's on the first network path its client took
    (the platform's own; Docker's userland proxy is measured after it)."""
    found = []
    for r in records:
        if r.counted and (r.platform, r.workload) == (platform, workload):
            found += [float(s.value) for s in r.quantities
                      if s.metric == metric and without(s.dimensions, PATH) == dimensions][:1]
    return found


def without(dimensions: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in dimensions.items() if k != name}


def precision_metric(workload: Workload) -> str | None:
    """The figure the rule narrows (at workload.headline_dimensions); None for a workload whose
    figure has no width (hello's digest)."""
    if workload.score is not None and workload.score.better == "equal" and not workload.metrics:
        return None
    return workload.headline_metric


def standing(rule: Precision, records: list[TrialRecord], platform: str, workload: Workload,
             native: bool) -> Standing:
    metric = precision_metric(workload)
    at = workload.headline_dimensions
    shown = dimensions_text(at)
    vals = values(records, platform, workload.name, metric, at) if metric else []
    if metric is None or not vals:
        trials = sum(1 for r in records if r.counted and (r.platform, r.workload) == (platform, workload.name))
        return Standing(platform, workload.name, metric or "", trials, math.inf, None, False, dimensions=shown)
    unit, better = next((s.unit, s.better) for r in records if r.ok and (r.platform, r.workload) == (platform, workload.name)
                        for s in r.quantities if s.metric == metric and without(s.dimensions, PATH) == at)
    target = rule.target(unit, better)
    interval = stats.median_ci(vals)
    if units.below_resolution(unit, better, stats.median(vals), interval.low, interval.high):
        return Standing(platform, workload.name, metric, len(vals), math.inf, target, False, True, shown)
    baseline = values(records, "native", workload.name, metric, at) if native and platform != "native" else []
    against = units.figure_kind(unit, better) == "throughput" and bool(baseline) and stats.median(baseline) > 0
    if against:
        width = stats.relative_half_width(stats.ratio_ci(vals, baseline), stats.median(vals) / stats.median(baseline))
    else:
        width = stats.relative_half_width(interval, stats.median(vals))
    return Standing(platform, workload.name, metric, len(vals), width, target, against, dimensions=shown)


def standings(suite: Suite, records: list[TrialRecord], loaded: dict[str, Workload],
              once: frozenset[str] = frozenset()) -> list[Standing]:
    """Every measured cell of the suite but the once-per-platform probes, in suite order."""
    assert suite.precision is not None
    native = "native" in suite.platforms
    return [standing(suite.precision, records, platform, loaded[workload], native)
            for workload in suite.workloads if workload not in once
            for platform in suite.platforms if suite.runs(platform, workload)]


def imprecise(suite: Suite, plan: list[PlannedTrial], found: list[Standing],
              records: Sequence[TrialRecord] = ()) -> dict[tuple[str, str], str]:
    """(platform, workload) → why it gets another round: not precise, or short of the minimum
    by trials set aside as disturbed; below its cap. Native follows any ratio of its workload
    that is not precise yet."""
    assert suite.precision is not None
    cap = suite.precision.max_repetitions
    wanted = {(s.platform, s.workload): s.reason() for s in found if not s.precise}
    for cell, count in summary.cell_counts(records, lambda r: bool(r.excluded)).items():
        counted = sum(1 for r in records if r.counted and (r.platform, r.workload) == cell)
        if counted < suite.repetitions:
            wanted[cell] = f"{count} disturbed trial(s) set aside, {counted} of {suite.repetitions} counted"
    for s in found:
        if s.against_native and not s.precise and ("native", s.workload) not in wanted:
            wanted[("native", s.workload)] = f"the ratio of {s.platform} to it: {s.reason()}"
    return {cell: why for cell, why in wanted.items()
            if schedule.measured_repetitions(plan, *cell) < cap}


def stopped(suite: Suite, found: list[Standing]) -> dict[str, PrecisionStop]:
    """What run.json keeps per cell once the rule is done: n, why it stopped, the width reached."""
    assert suite.precision is not None
    return {f"{s.platform}/{s.workload}": PrecisionStop(**s.to_json(), stopped=_why_stopped(s)) for s in found}


def _why_stopped(s: Standing) -> str:
    if s.target is None:
        return NO_WIDTH
    return PRECISE if s.precise else CAP
