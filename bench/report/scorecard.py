"""The report's first figure: a row per platform, a column per question the run measured, each
cell the platform's figure against native's with its 95 % interval, shaded by how much it costs.

A column holds a ratio to native (time to ready, CPU, an application's throughput and p99) or,
where a ratio reads oddly, the figure itself shaded by its ratio (idle memory, image size), a
count shaded by its share of what native reaches (system calls), or the worst degradation a
neighbour caused. A question nobody measured has no column; a platform that did not measure
one has a blank cell, never a zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.analysis.degradation import Degradation
from bench.analysis.summary import SummaryRow
from bench.definitions.workload import SETTLED_METRIC
from bench.model import units
from bench.model.registry import is_vm
from bench.report import applications, neighbours
from bench.report.verdict import Ratio, column_name, measured, platforms
from bench.rundir.runs import LoadedRun

# How much worse than native a figure is (its ratio, or the inverse for higher-is-better), at
# most each bound: s0 … s3; beyond the last, s4. Below BETTER: better than native ("sb").
COST_SHADES = ((1.05, "s0"), (1.25, "s1"), (2.0, "s2"), (10.0, "s3"))
BETTER = 0.95
SHARE_SHADES = ((0.05, "s0"), (0.25, "s1"), (0.5, "s2"), (0.9, "s3"))  # of native's count
DEGRADATION_SHADES = ((5.0, "s0"), (20.0, "s1"), (50.0, "s2"), (80.0, "s3"))  # D in %
BASELINE = "base"


@dataclass(frozen=True)
class ScoreCell:
    main: str = ""  # empty: not measured
    interval: str = ""
    shade: str = ""
    title: str = ""  # what the cell is, in words (a tooltip, and for a screen reader)


@dataclass(frozen=True)
class ScoreColumn:
    label: str
    shows: str  # "÷ native", "MiB", "calls", "worst D"
    href: str  # the section that holds the detail


@dataclass(frozen=True)
class ScoreRow:
    platform: str
    label: str
    accel_note: str  # "TCG: an emulator" on a VM row under TCG
    cells: tuple[ScoreCell, ...]


@dataclass(frozen=True)
class Scorecard:
    run_id: str
    columns: tuple[ScoreColumn, ...]
    rows: tuple[ScoreRow, ...]


RATIO, VALUE, SHARE = "ratio", "value", "share"


@dataclass(frozen=True)
class Question:
    label: str
    metric: str
    workloads: tuple[str, ...]  # preferred, in order; any workload with the metric otherwise
    shows: str  # RATIO: the ratio to native; VALUE: the figure, shaded by its ratio; SHARE: a count
    instead: str = ""  # the metric of an older run that has none of `metric`


QUESTIONS = (
    Question("Time to ready", "boot_s", ("boot",), RATIO),
    Question("Idle memory", SETTLED_METRIC, ("idle",), VALUE, instead="mem_pss_mean_mib"),
    Question("Image on disk", "image_mib", ("boot", "idle"), VALUE),
    Question("CPU", "score", ("cpu",), RATIO),
    Question("Memory bandwidth", "read_mib_s", ("memory",), RATIO),
    Question("Disk random read", "randread_iops", ("disk",), RATIO),
    Question("Network throughput", "throughput_mbit_s", ("net",), RATIO),
    Question("System calls reaching the host kernel", "syscalls_host_reachable", ("exposure",), SHARE),
)


def _shade(value: float, bounds: tuple[tuple[float, str], ...]) -> str:
    return next((shade for bound, shade in bounds if value <= bound), "s4")


def cost(ratio: float, better: str) -> float:
    """How many times worse than native: the ratio for lower-is-better, its inverse otherwise."""
    return ratio if better == "lower" else 1 / ratio


def cost_shade(ratio: float, better: str) -> str:
    worse = cost(ratio, better)
    return "sb" if worse < BETTER else _shade(worse, COST_SHADES)


def _ratio_cell(ratio: float, low: float, high: float, better: str, what: str) -> ScoreCell:
    return ScoreCell(units.ratio(ratio), units.ratio_interval(low, high), cost_shade(ratio, better),
                     f"{what}: {units.ratio(ratio)} native's, 95% CI {units.ratio_interval(low, high)}")


def _measured(row: SummaryRow, question: Question, what: str) -> ScoreCell:
    interval = units.interval(row.ci_low, row.ci_high, row.unit, row.median) if row.ci_low < row.ci_high else ""
    if row.platform == "native" and question.shows != SHARE:
        return ScoreCell(units.human(row.median, row.unit), "", BASELINE,
                         f"{what}: native's, the baseline" + (f"; 95% CI {interval}" if interval else ""))
    if question.shows == RATIO and row.has_ratio:
        return _ratio_cell(row.ratio_to_native, row.ratio_ci_low, row.ratio_ci_high, row.better, what)
    shown = f"{row.median:,.0f}" if question.shows == SHARE else units.human(row.median, row.unit)
    if question.shows == SHARE:
        shade = _shade(row.ratio_to_native, SHARE_SHADES) if row.has_ratio else ("s0" if row.median == 0 else "")
    else:
        shade = cost_shade(row.ratio_to_native, row.better) if row.has_ratio else ""
    told = f"{what}: {shown}" + (f", {units.ratio(row.ratio_to_native)} native's" if row.has_ratio else "")
    return ScoreCell(shown, interval, shade, told)


def _question_column(run: LoadedRun, shown: list[str], question: Question) -> tuple[ScoreColumn, list[ScoreCell]] | None:
    if (found := measured(run, question.metric, question.workloads, question.instead)) is None:
        return None
    workload, metric = found
    rows = {p: run.row(workload, metric, p) for p in shown}
    what = f"{question.label} ({workload} {metric})"
    cells = [_measured(row, question, what) if row is not None else ScoreCell() for row in rows.values()]
    unit = next(r.unit for r in rows.values() if r is not None)
    shows = {RATIO: "÷ native", VALUE: unit, SHARE: "calls"}[question.shows]
    return ScoreColumn(question.label, shows, "#verdict"), cells


def _app_columns(run: LoadedRun, shown: list[str]) -> list[tuple[ScoreColumn, list[ScoreCell]]]:
    found = []
    for h in applications.headlines(run):
        what = f"{h.workload} {h.metric}{h.at}"
        cells = []
        for p in shown:
            ratio: Ratio | None = h.ratios.get(p)
            if p == "native":  # every ratio is to its figure
                cells.append(ScoreCell("1×", "", BASELINE, f"{what}: native, the baseline"))
            else:
                cells.append(ScoreCell() if ratio is None else
                             _ratio_cell(ratio.value, ratio.low, ratio.high, h.better, what))
        found.append((ScoreColumn(f"{h.workload} {h.metric}{h.at}", "÷ native", "#applications"), cells))
    return found


def _degradation_cell(worst: tuple[str, Degradation] | None, what: str) -> ScoreCell:
    if worst is None:
        return ScoreCell()
    stress, d = worst
    if d.did_not_run:
        return ScoreCell("DNR", stress, "s4", f"{what}: did not complete beside {stress}")
    return ScoreCell(f"{d.percent:+.0f} %", f"{stress} [{d.interval.low:+.0f}, {d.interval.high:+.0f}]",
                     _shade(max(d.percent, 0.0), DEGRADATION_SHADES), f"{what}: lost most to {stress}: {d.text()}")


def _neighbour_column(run: LoadedRun, shown: list[str]) -> list[tuple[ScoreColumn, list[ScoreCell]]]:
    found = neighbours.worst_cases(run)
    if found is None:
        return []
    figure, worst = found
    what = f"Worst neighbour ({figure})"
    return [(ScoreColumn("Worst neighbour", f"D, {figure}", "#neighbours"),
             [_degradation_cell(worst.get(p), what) for p in shown])]


def _accel_note(run: LoadedRun, platform: str) -> str:
    if not is_vm(platform):
        return ""
    return {"tcg": "TCG: an emulator", "kvm": "KVM"}.get("+".join(sorted(run.vm_accels)), "")


def scorecard(run: LoadedRun) -> Scorecard:
    shown = platforms(run)
    columns: list[tuple[ScoreColumn, list[ScoreCell]]] = []
    for question in QUESTIONS:
        if (column := _question_column(run, shown, question)) is not None:
            columns.append(column)
    makers: tuple[Callable[[LoadedRun, list[str]], list[tuple[ScoreColumn, list[ScoreCell]]]], ...] = (
        _app_columns, _neighbour_column)
    for make in makers:
        columns += make(run, shown)
    columns = [(c, cells) for c, cells in columns if any(cell.main for cell in cells)]
    rows = tuple(ScoreRow(p, column_name(p, run), _accel_note(run, p), tuple(cells[i] for _, cells in columns))
                 for i, p in enumerate(shown))
    return Scorecard(run.run_id, tuple(c for c, _ in columns), rows)
