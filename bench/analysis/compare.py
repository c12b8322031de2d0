"""`bench compare`: the A/B gate between a baseline run and a current one.

Per workload × metric × platform: the change of the median, judged by the metric's better
direction, and a one-sided rank test (Mann-Whitney U, exact where feasible) of the trial values
in that direction. A regression is a change worse than the threshold AND significant at alpha;
both are needed, so noise cannot fail a build and a real but tiny shift does not either.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.analysis import stats
from bench.analysis.tables import markdown_cell, markdown_table, percent, text_table
from bench.errors import BenchError
from bench.model import units
from bench.model.trial import TrialRecord


class ComparedRun(Protocol):
    """What compare reads of a run directory (the readers' LoadedRun)."""

    path: Path

    @property
    def suite_name(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def counted(self) -> list[TrialRecord]: ...
    @property
    def vm_accels(self) -> set[str]: ...


REGRESSION, IMPROVEMENT, UNCHANGED, UNDECIDABLE = "regression", "improvement", "unchanged", "undecidable"
STATUS_ORDER = {REGRESSION: 0, UNDECIDABLE: 1, IMPROVEMENT: 2, UNCHANGED: 3}


@dataclass(frozen=True)
class Change:
    workload: str
    metric: str
    platform: str
    unit: str
    better: str
    baseline_n: int
    current_n: int
    baseline_median: float
    current_median: float
    change: float  # relative change of the median; +0.3 = 30% larger
    p_worse: float  # one-sided p that current is worse
    p_better: float
    min_p: float
    status: str

    @property
    def name(self) -> str:
        return f"{self.workload} {self.metric} on {self.platform}"


@dataclass
class Comparison:
    baseline: str
    current: str
    threshold: float
    alpha: float
    changes: list[Change]
    unmatched: list[str] = field(default_factory=list)  # measured in only one of the runs
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.status == REGRESSION]

    def verdict(self) -> str:
        if self.regressions:
            return (f"{len(self.regressions)} regression(s): " + "; ".join(
                f"{c.name} {percent(c.change)}" for c in self.regressions))
        return f"no regression beyond {self.threshold:.0%} at alpha {self.alpha:g} ({len(self.changes)} compared)"

    def _rows(self) -> list[list[str]]:
        ordered = sorted(self.changes, key=lambda c: (STATUS_ORDER[c.status], c.workload, c.metric, c.platform))
        return [[c.status, c.workload, c.metric, c.platform, units.human(c.baseline_median, c.unit),
                 units.human(c.current_median, c.unit), percent(c.change), f"{c.better} is better",
                 units.plain(c.p_worse), f"{c.baseline_n}/{c.current_n}"] for c in ordered]

    HEADER = ["status", "workload", "metric", "platform", "baseline", "current", "change", "direction",
              "p (worse)", "n"]

    def text(self) -> str:
        lines = [f"baseline {self.baseline}  →  current {self.current}"]
        lines += text_table(self.HEADER, self._rows())
        lines += [f"note: {note}" for note in self.notes]
        lines += [f"only in one run: {name}" for name in self.unmatched]
        lines.append(self.verdict())
        return "\n".join(lines)

    def markdown(self) -> str:
        icon = ":x:" if self.regressions else ":white_check_mark:"
        lines = [f"### {icon} bench compare: {markdown_cell(self.verdict())}", "",
                 f"Baseline `{self.baseline}`, current `{self.current}`; threshold {self.threshold:.0%}, "
                 f"alpha {self.alpha:g} (one-sided Mann-Whitney U).", ""]
        lines += markdown_table(self.HEADER, self._rows(), bold=REGRESSION)
        if self.notes or self.unmatched:
            lines.append("")
        lines += [f"- note: {markdown_cell(note)}" for note in self.notes]
        lines += [f"- only in one run: {markdown_cell(name)}" for name in self.unmatched]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "current": self.current, "threshold": self.threshold,
                "alpha": self.alpha, "regressions": [c.name for c in self.regressions],
                "changes": [{**asdict(c), "change": _finite(c.change)} for c in self.changes],
                "unmatched": self.unmatched, "notes": self.notes}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _relative(baseline: float, current: float) -> float:
    if baseline == 0:
        return 0.0 if current == 0 else math.copysign(math.inf, current)
    return (current - baseline) / abs(baseline)


def check_comparable(baseline: ComparedRun, current: ComparedRun, force: bool) -> None:
    if baseline.suite_name != current.suite_name:
        raise BenchError(f"compare: different suites: {baseline.path} ran '{baseline.suite_name}', "
                         f"{current.path} ran '{current.suite_name}'")
    a, b = baseline.vm_accels, current.vm_accels
    if a and b and a != b and not force:
        raise BenchError(f"compare: the VMs ran under {'+'.join(sorted(a))} in {baseline.path} but "
                         f"{'+'.join(sorted(b))} in {current.path}; TCG and KVM numbers are not comparable "
                         "(--force compares them anyway)")
    if not baseline.counted or not current.counted:
        empty = baseline.path if not baseline.counted else current.path
        raise BenchError(f"compare: {empty} has no successful measured trial")


def _by_platform(run: ComparedRun) -> tuple[dict[tuple[str, str, str], list[float]], dict[tuple[str, str, str], tuple[str, str]]]:
    values: dict[tuple[str, str, str], list[float]] = {}
    kind: dict[tuple[str, str, str], tuple[str, str]] = {}
    for record in run.counted:
        for s in record.quantities:
            key = (s.workload, s.metric, s.platform)
            values.setdefault(key, []).append(float(s.value))
            kind[key] = (s.unit, s.better)
    return values, kind


def judge(base: list[float], cur: list[float], better: str, threshold: float, alpha: float,
          seed: int = 0) -> tuple[str, float, float, float, float]:
    """(status, relative change, p worse, p better, min p) of one metric."""
    change = _relative(stats.median(base), stats.median(cur))
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
    return status, change, worse.p, improved.p, worse.min_p


def compare(baseline: ComparedRun, current: ComparedRun, threshold: float = 0.10, alpha: float = 0.01,
            force: bool = False, metrics: list[str] | None = None) -> Comparison:
    check_comparable(baseline, current, force)
    base_values, base_kind = _by_platform(baseline)
    cur_values, cur_kind = _by_platform(current)
    wanted = set(metrics) if metrics else None
    if wanted:
        unknown = wanted - {m for _, m, _ in base_values} - {m for _, m, _ in cur_values}
        if unknown:
            raise BenchError(f"compare --metrics: not measured in either run: {', '.join(sorted(unknown))}")
    result = Comparison(str(baseline.path), str(current.path), threshold, alpha, [])
    for key in sorted(set(base_values) | set(cur_values)):
        if wanted and key[1] not in wanted:
            continue
        if key not in base_values or key not in cur_values:
            result.unmatched.append(" ".join(key))
            continue
        unit, better = cur_kind[key]
        if base_kind[key] != (unit, better):
            raise BenchError(f"compare: {' '.join(key)} is measured in {base_kind[key][0]} in the baseline "
                             f"but {unit} now")
        base, cur = base_values[key], cur_values[key]
        status, change, p_worse, p_better, min_p = judge(base, cur, better, threshold, alpha, current.seed)
        result.changes.append(Change(*key, unit, better, len(base), len(cur), stats.median(base),
                                     stats.median(cur), change, p_worse, p_better, min_p, status))
    undecidable = [c for c in result.changes if c.status == UNDECIDABLE]
    if undecidable:
        smallest = min(c.min_p for c in undecidable)
        result.notes.append(f"{len(undecidable)} metric(s) have too few trials to reach alpha {alpha:g} "
                            f"(the smallest possible p is {units.plain(smallest)}); run more repetitions to gate them")
    if baseline.vm_accels != current.vm_accels and baseline.vm_accels and current.vm_accels:
        result.notes.append("forced: the VMs ran under different accelerators")
    return result
