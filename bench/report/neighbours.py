"""The report's Noisy neighbours section: per interference workload and victim figure, a matrix
of stress × platform whose cells are the victim's degradation D (analysis/degradation.py) with
its 95 % interval, whether the victim completed (DNR) and what became of the neighbour; and
findings that test "a VM isolates its neighbours better than a container" from the worst case
each platform showed, naming the platforms each rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.analysis.degradation import Degradation, degradation
from bench.definitions.interference import ALONE, condition_in, dimensions_beside
from bench.definitions.kinds import NEIGHBOURS
from bench.model import units
from bench.model.registry import is_vm
from bench.model.sample import dimensions_text
from bench.model.series import at_dimensions
from bench.model.trial import TrialRecord
from bench.report.verdict import Cell, column_name, platforms
from bench.rundir.runs import LoadedRun

SHADES = ((5.0, "d0"), (20.0, "d1"), (50.0, "d2"))  # |D| below each bound; above the last: "d3"
FATE_METRICS = ("victim_completed", "neighbour_alive", "neighbour_procs_peak", "neighbour_oom_kills")
PUBLISHED = ("Matthews et al. 2007 (Xen, VMware, OpenVZ, Solaris containers on 2007 hardware): full virtualisation "
             "kept the well-behaved VM near 0 % under every stress, while an OS-level container platform lost 21 % "
             "to a network sender and did not complete under another; the authors' earlier report found Solaris "
             "containers' well-behaved instances suffered the misbehaving one's fate under every stress. Figures "
             "from other hardware and software: context, not evidence.")


@dataclass(frozen=True)
class Matrix:
    workload: str  # noisy-cpu
    victim: str  # cpu
    metric: str  # score, "get_ops_s at clients=10": the victim's figure at its own dimensions
    unit: str
    better: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]  # stress → a cell per column


@dataclass(frozen=True)
class Neighbours:
    matrices: tuple[Matrix, ...]
    findings: tuple[str, ...]
    placement: str
    tcg: bool
    published: str = PUBLISHED


def _records(run: LoadedRun, workload: str, platform: str) -> list[TrialRecord]:
    return [r for r in run.counted if r.workload == workload and r.platform == platform]


@dataclass(frozen=True)
class VictimFigure:
    """One of the victim's own figures: a metric at its dimensions, as measured alone."""
    metric: str
    dimensions: dict[str, str]
    unit: str
    better: str

    @property
    def shown(self) -> str:
        return at_dimensions(self.metric, dimensions_text(self.dimensions))


def _values(records: list[TrialRecord], metric: str, dimensions: dict[str, str]) -> list[float]:
    return [float(s.value) for r in records for s in r.quantities if s.metric == metric and s.dimensions == dimensions]


def _conditions(records: list[TrialRecord]) -> list[str]:
    return list(dict.fromkeys(c for r in records for c in r.facts.get("conditions", "").split() if c != ALONE))


def _victim_figures(records: list[TrialRecord]) -> list[VictimFigure]:
    """The victim's own figures, as measured alone."""
    found: dict[tuple[str, str], VictimFigure] = {}
    for r in records:
        for s in r.quantities:
            if condition_in(s.dimensions) == ALONE and s.metric not in FATE_METRICS and s.metric != "teardown_s":
                found.setdefault((s.metric, dimensions_text(s.dimensions)), VictimFigure(s.metric, s.dimensions, s.unit, s.better))
    return list(found.values())


def degradation_of(records: list[TrialRecord], figure: VictimFigure, condition: str) -> Degradation | None:
    alone = _values(records, figure.metric, figure.dimensions)
    if not alone:
        return None
    attempted = len(_values(records, "victim_completed", dimensions_beside({}, condition)))
    if attempted == 0:
        return None
    beside = _values(records, figure.metric, dimensions_beside(figure.dimensions, condition))
    return degradation(alone, beside, figure.better, attempted)


def _fate(records: list[TrialRecord], condition: str) -> str:
    alive = _values(records, "neighbour_alive", dimensions_beside({}, condition))
    kills = _values(records, "neighbour_oom_kills", dimensions_beside({}, condition))
    parts = []
    if alive and min(alive) < 1:
        parts.append(f"neighbour ended early in {sum(1 for a in alive if a < 1)} of {len(alive)}")
    if kills and max(kills) > 0:
        parts.append(f"neighbour OOM-killed inside its instance (up to {max(kills):.0f}×)")
    return "; ".join(parts)


def _cell(d: Degradation | None, fate: str, better: str) -> Cell:
    if d is None:
        return Cell("—")
    if d.did_not_run:
        return Cell("DNR", "; ".join(filter(None, [d.text(), fate])), "dnr")
    shade = next((name for bound, name in SHADES if abs(d.percent) < bound), "d3")
    if better == "lower":  # a latency reads best as its ratio: p99 beside ÷ p99 alone
        low, high = 1 + d.interval.low / 100, 1 + d.interval.high / 100
        ratio = f"{units.ratio(1 + d.percent / 100)} {units.ratio_interval(low, high)}"
        partial = "" if d.completed == d.attempted else f", {d.completed} of {d.attempted} completed"
        return Cell(ratio + partial, fate, shade)
    return Cell(d.text(), fate, shade)


def _worst(records: list[TrialRecord], figure: VictimFigure) -> tuple[str, Degradation] | None:
    """The stress that took most from the victim (a DNR counts as the most)."""
    found = [(c, d) for c in _conditions(records) if (d := degradation_of(records, figure, c)) is not None]
    if not found:
        return None
    return max(found, key=lambda cd: math.inf if cd[1].did_not_run else cd[1].percent)


def worst_cases(run: LoadedRun) -> tuple[str, dict[str, tuple[str, Degradation]]] | None:
    """The first interference workload's victim figure, and each platform's worst case beside a
    neighbour (the stress and its degradation)."""
    for workload in run.workloads_for(NEIGHBOURS):
        every = [r for r in run.counted if r.workload == workload]
        figures = _victim_figures(every)
        if figures:
            return (f"{workload} {figures[0].shown}",
                    {p: w for p in platforms(run) if (w := _worst(_records(run, workload, p), figures[0])) is not None})
    return None


def _bounds(d: Degradation) -> tuple[float, float]:
    """D's interval; a victim that never completed lost everything."""
    return (100.0, 100.0) if d.did_not_run else (d.interval.low, d.interval.high)


def _said(platform: str, worst: tuple[str, Degradation], run: LoadedRun) -> str:
    stress, d = worst
    return f"{column_name(platform, run)} lost most to {stress}: {d.text()}"


def _findings(run: LoadedRun, workload: str, figure: VictimFigure, shown: list[str]) -> list[str]:
    worst = {p: w for p in shown if (w := _worst(_records(run, workload, p), figure)) is not None}
    vms = [p for p in worst if is_vm(p)]
    containers = [p for p in worst if p != "native" and not is_vm(p)]
    lead = f"{workload} ({figure.shown}), worst case per platform: " + "; ".join(_said(p, w, run) for p, w in worst.items())
    if not vms or not containers:
        return [f"{lead}. A VM isolates its neighbours better than a container: not measurable here — the run did "
                "not put both a VM and a container beside a neighbour."]
    verdicts = []
    for c in containers:
        for v in vms:
            (low_v, high_v), (low_c, high_c) = _bounds(worst[v][1]), _bounds(worst[c][1])
            if high_v < low_c:
                verdicts.append(("better", v, c))
            elif high_c < low_v:
                verdicts.append(("worse", v, c))
            else:
                verdicts.append(("unsettled", v, c))
    better_pairs = [f"{column_name(v, run)} over {column_name(c, run)}" for how, v, c in verdicts if how == "better"]
    worse_pairs = [f"{column_name(c, run)} over {column_name(v, run)}" for how, v, c in verdicts if how == "worse"]
    open_pairs = [f"{column_name(v, run)} against {column_name(c, run)}" for how, v, c in verdicts if how == "unsettled"]
    if worse_pairs:
        verdict = "contradicted — the container's worst case was smaller: " + ", ".join(worse_pairs)
    elif better_pairs and not open_pairs:
        verdict = "supported — the VM's worst case was smaller: " + ", ".join(better_pairs)
    elif better_pairs:
        verdict = ("partly supported — smaller worst case for " + ", ".join(better_pairs)
                   + "; intervals overlap for " + ", ".join(open_pairs))
    else:
        verdict = "not settled — the worst-case intervals overlap: " + ", ".join(open_pairs)
    tcg = " (VMs under TCG: an emulator's isolation, not a hypervisor's)" if vms and "tcg" in run.vm_accels else ""
    return [f"{lead}. A VM isolates its neighbours better than a container: {verdict}{tcg}."]


def section(run: LoadedRun) -> Neighbours | None:
    chosen = run.workloads_for(NEIGHBOURS)
    if not chosen:
        return None
    shown = platforms(run)
    matrices, findings = [], []
    placement = ""
    for workload in chosen:
        by_platform = {p: _records(run, workload, p) for p in shown}
        present = [p for p in shown if by_platform[p]]
        every = [r for p in present for r in by_platform[p]]
        placement = placement or every[0].facts.get("placement", "")
        victim = every[0].facts.get("victim", "") or workload
        conditions = _conditions(every)
        figures = _victim_figures(every)
        for figure in figures:
            rows = tuple((c, tuple(_cell(degradation_of(by_platform[p], figure, c), _fate(by_platform[p], c),
                                         figure.better) for p in present)) for c in conditions)
            matrices.append(Matrix(workload, victim, figure.shown, figure.unit, figure.better,
                                   tuple(column_name(p, run) for p in present), rows))
        if figures:
            findings += _findings(run, workload, figures[0], present)
    tcg = "tcg" in run.vm_accels and any(is_vm(p) for p in shown)
    return Neighbours(tuple(matrices), tuple(findings), placement, tcg)
