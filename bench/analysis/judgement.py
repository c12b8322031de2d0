"""The one judgement of a metric against a baseline, and the one report of a gate, that
`bench compare` (a run against a run) and `bench history check` (a run against each series'
stable segment) share.

A regression is a change of the median worse than the threshold (by the metric's better
direction) AND a one-sided rank test (Mann-Whitney U, exact where feasible) of the trial values
in that direction significant at alpha; both are needed, so noise cannot fail a build and a real
but tiny shift does not either. Where even the most extreme ranks could not reach alpha, the
metric is undecidable rather than unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.analysis import stats
from bench.analysis.tables import markdown_cell, markdown_table, percent, text_table
from bench.model import units
from bench.model.registry import label
from bench.model.sample import dimensions_order
from bench.model.series import SeriesKey

REGRESSION, IMPROVEMENT, UNCHANGED, UNDECIDABLE = "regression", "improvement", "unchanged", "undecidable"
NO_BASELINE = "no history"  # the gate's: a series this run is the first of
STATUS_ORDER = {REGRESSION: 0, UNDECIDABLE: 1, IMPROVEMENT: 2, UNCHANGED: 3, NO_BASELINE: 4}


@dataclass(frozen=True)
class Judgement:
    series: SeriesKey
    status: str
    baseline_n: int
    current_n: int
    baseline_median: float | None  # None: nothing to judge against
    current_median: float
    change: float | None = None  # relative change of the median; +0.3 = 30% larger
    p_worse: float | None = None  # one-sided p that current is worse
    p_better: float | None = None
    min_p: float | None = None  # the smallest p these trial counts can give
    against: str = ""  # what the baseline was, where a report says it per metric

    def where(self, with_accel: bool) -> str:
        return label(self.series.platform, self.series.accel) if with_accel else self.series.platform

    def name(self, with_accel: bool) -> str:
        return f"{self.series.workload} {self.series.measured} on {self.where(with_accel)}"


def relative(baseline: float, current: float) -> float:
    if baseline == 0:
        return 0.0 if current == 0 else math.copysign(math.inf, current)
    return (current - baseline) / abs(baseline)


def judge(series: SeriesKey, base: list[float], cur: list[float], threshold: float, alpha: float,
          seed: int = 0, against: str = "") -> Judgement:
    better = series.better
    change = relative(stats.median(base), stats.median(cur))
    worse_direction = "greater" if better == "lower" else "less"
    better_direction = "less" if worse_direction == "greater" else "greater"
    worse = stats.rank_test(base, cur, worse_direction, seed)
    improved = stats.rank_test(base, cur, better_direction, seed)
    worse_by = change if better == "lower" else -change
    if worse.min_p > alpha:
        status = UNDECIDABLE
    elif worse_by > threshold and worse.p < alpha:
        status = REGRESSION
    elif -worse_by > threshold and improved.p < alpha:
        status = IMPROVEMENT
    else:
        status = UNCHANGED
    return Judgement(series, status, len(base), len(cur), stats.median(base), stats.median(cur), change,
                     worse.p, improved.p, worse.min_p, against)


def unjudged(series: SeriesKey, cur: list[float], why: str = NO_BASELINE) -> Judgement:
    return Judgement(series, why, 0, len(cur), None, stats.median(cur))


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass
class GateReport:
    """What a gate judged, in one shape and one number format for the terminal, a pull
    request (markdown) and a program (JSON)."""

    tool: str  # "bench compare"
    title: str  # the text's first line
    described: str  # the markdown's line under its heading
    head: dict[str, Any]  # the JSON's first keys: what was judged against what
    threshold: float
    alpha: float
    changes: list[Judgement]
    counted_as: str = "compared"  # "no regression … (12 compared)"
    with_accel: bool = False  # the platform column names the accelerator (series of many runs)
    against_column: str = ""  # the header of a per-metric baseline column, if any
    unmatched: list[str] = field(default_factory=list)  # measured on one side only
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Judgement]:
        return [c for c in self.changes if c.status == REGRESSION]

    def verdict(self) -> str:
        if self.regressions:
            return f"{len(self.regressions)} regression(s): " + "; ".join(
                f"{c.name(self.with_accel)} {percent(c.change)}" for c in self.regressions)
        return (f"no regression beyond {self.threshold:.0%} at alpha {self.alpha:g} "
                f"({len(self.changes)} {self.counted_as})")

    def header(self) -> list[str]:
        against = [self.against_column] if self.against_column else []
        return ["status", "workload", "metric", "platform", *against, "baseline", "current", "change", "direction",
                "p (worse)", "n"]

    def rows(self) -> list[list[str]]:
        w = self.with_accel
        ordered = sorted(self.changes, key=lambda c: (STATUS_ORDER[c.status], c.series.workload, c.series.metric,
                                                      dimensions_order(c.series.dimensions), c.where(w)))
        return [[c.status, c.series.workload, c.series.measured, c.where(w),
                 *([c.against or "-"] if self.against_column else []),
                 _quantity(c.baseline_median, c.series.unit), units.human(c.current_median, c.series.unit),
                 "-" if c.change is None else percent(c.change), f"{c.series.better} is better",
                 "-" if c.p_worse is None else units.plain(c.p_worse), f"{c.baseline_n}/{c.current_n}"]
                for c in ordered]

    def text(self) -> str:
        lines = [self.title, *text_table(self.header(), self.rows())]
        lines += [f"note: {note}" for note in self.notes]
        lines += [f"only in one run: {name}" for name in self.unmatched]
        lines.append(self.verdict())
        return "\n".join(lines)

    def counts(self) -> str:
        """One line of how many series ended how: "424 series: 2 regression, 380 unchanged, ..."."""
        found = {status: sum(c.status == status for c in self.changes) for status in STATUS_ORDER}
        return f"{len(self.changes)} series: " + ", ".join(f"{n} {status}" for status, n in found.items() if n)

    def markdown(self) -> str:
        """For a reviewer: the verdict, the regressions and improvements found, the rest as one
        line of counts with the whole table folded."""
        icon = ":x:" if self.regressions else ":white_check_mark:"
        lines = [f"### {icon} {self.tool}: {markdown_cell(self.verdict())}", "", self.described, ""]
        rows = self.rows()
        for status, heading in ((REGRESSION, "Regressions"), (IMPROVEMENT, "Improvements")):
            chosen = [row for row in rows if row[0] == status]
            if chosen:
                lines += [f"**{heading}**", "", *markdown_table(self.header(), chosen, bold=REGRESSION), ""]
        lines += [markdown_cell(self.counts()) + ".", ""]
        if rows:
            lines += [f"<details><summary>Every series ({len(rows)})</summary>", "",
                      *markdown_table(self.header(), rows, bold=REGRESSION), "", "</details>"]
        if self.notes or self.unmatched:
            lines.append("")
        lines += [f"- note: {markdown_cell(note)}" for note in self.notes]
        lines += [f"- only in one run: {markdown_cell(name)}" for name in self.unmatched]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {**self.head, "threshold": self.threshold, "alpha": self.alpha,
                "regressions": [c.name(self.with_accel) for c in self.regressions],
                "changes": [self._change_json(c) for c in self.changes],
                "unmatched": self.unmatched, "notes": self.notes}

    def _change_json(self, c: Judgement) -> dict[str, Any]:
        key = c.series
        data: dict[str, Any] = {"workload": key.workload, "metric": key.metric, "dimensions": key.dimensions,
                                "platform": key.platform}
        if self.with_accel:
            data.update(accel=key.accel, series=c.name(True))
        data.update(unit=key.unit, better=key.better, baseline_n=c.baseline_n, current_n=c.current_n,
                    baseline_median=c.baseline_median, current_median=c.current_median, change=c.change,
                    p_worse=c.p_worse, p_better=c.p_better, min_p=c.min_p, status=c.status)
        if self.against_column:
            data["against"] = c.against
        return {k: _finite(v) for k, v in data.items()}


def _quantity(value: float | None, unit: str) -> str:
    return "-" if value is None else units.human(value, unit)
