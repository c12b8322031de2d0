"""`bench compare`: the A/B gate between a baseline run and a current one.

Per workload × metric × platform, the current run's trial values are judged against the
baseline's (judgement.py, which `bench history check` shares).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bench.analysis.judgement import UNDECIDABLE, GateReport, judge
from bench.errors import BenchError
from bench.model import units
from bench.model.series import SeriesKey, at_dimensions
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


def _by_platform(run: ComparedRun) -> dict[tuple[str, str, str, str], tuple[SeriesKey, list[float]]]:
    """(workload, metric, dimensions, platform) → the series and its values. The accelerator is
    left out of the match: a forced comparison judges TCG against KVM."""
    found: dict[tuple[str, str, str, str], tuple[SeriesKey, list[float]]] = {}
    for record in run.counted:
        for s in record.quantities:
            key = SeriesKey.of(s)
            found.setdefault((key.workload, key.metric, key.dimensions, key.platform), (key, []))[1].append(float(s.value))
    return found


def _shown(match: tuple[str, str, str, str]) -> str:
    workload, metric, dimensions, platform = match
    return f"{workload} {at_dimensions(metric, dimensions)} {platform}"


def compare(baseline: ComparedRun, current: ComparedRun, threshold: float = 0.10, alpha: float = 0.01,
            force: bool = False, metrics: list[str] | None = None) -> GateReport:
    check_comparable(baseline, current, force)
    base_values, cur_values = _by_platform(baseline), _by_platform(current)
    wanted = set(metrics) if metrics else None
    if wanted:
        unknown = wanted - {m for _, m, _, _ in base_values} - {m for _, m, _, _ in cur_values}
        if unknown:
            raise BenchError(f"compare --metrics: not measured in either run: {', '.join(sorted(unknown))}")
    result = GateReport("bench compare", f"baseline {baseline.path}  →  current {current.path}",
                        f"Baseline `{baseline.path}`, current `{current.path}`; threshold {threshold:.0%}, "
                        f"alpha {alpha:g} (one-sided Mann-Whitney U).",
                        {"baseline": str(baseline.path), "current": str(current.path)}, threshold, alpha, [])
    for match in sorted(set(base_values) | set(cur_values)):
        if wanted and match[1] not in wanted:
            continue
        if match not in base_values or match not in cur_values:
            result.unmatched.append(_shown(match))
            continue
        (base_key, base), (key, cur) = base_values[match], cur_values[match]
        if (base_key.unit, base_key.better) != (key.unit, key.better):
            raise BenchError(f"compare: {_shown(match)} is measured in {base_key.unit} in the baseline "
                             f"but {key.unit} now")
        result.changes.append(judge(key, base, cur, threshold, alpha, current.seed))
    undecidable = [c for c in result.changes if c.status == UNDECIDABLE]
    if undecidable:
        smallest = min(c.min_p for c in undecidable if c.min_p is not None)
        result.notes.append(f"{len(undecidable)} metric(s) have too few trials to reach alpha {alpha:g} "
                            f"(the smallest possible p is {units.plain(smallest)}); run more repetitions to gate them")
    if baseline.vm_accels != current.vm_accels and baseline.vm_accels and current.vm_accels:
        result.notes.append("forced: the VMs ran under different accelerators")
    return result
