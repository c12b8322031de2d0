"""The report's Applications section: each server workload's throughput and p99 on every
platform as a ratio to native with its CI, published figures from other hardware beside them,
and a finding sentence derived from the run's own numbers.

A server workload is one whose trials recorded a host-side client (the `network_client`
fact). Its figures carry the client's value as a dimension (`get_ops_s` at clients=10).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.model import units
from bench.model.registry import is_vm
from bench.model.dimensions import DNAT, HOST, PATH, PROXY, STRESS
from bench.model.sample import parse_dimensions
from bench.report import charts
from bench.report.verdict import Cell, Ratio, column_name, platforms, ratio_between
from bench.rundir.runs import LoadedRun

PUBLISHED = Path(__file__).with_name("published.toml")
RATE_UNITS = ("ops/s", "req/s", "tx/s")  # throughput in operations; MiB/s follows from it
NOTHING = 0.1  # "cost nothing": the whole CI within ±10 % of native; wider and across 1 is "too wide to say"


@dataclass(frozen=True)
class Published:
    workload: str
    metric: str
    platform: str
    against: str
    ratio: float
    setting: str
    source: str
    at: int | None = None


@dataclass(frozen=True)
class AppRow:
    label: str  # "get_ops_s at 1 clients"
    native: str  # native's own median, in its unit
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Beside:
    """A published ratio and this run's own for the same pair."""
    setting: str
    source: str
    theirs: str
    ours: str


@dataclass(frozen=True)
class AppFinding:
    """What one throughput at one value says: each platform's cost against native."""
    lead: str  # "redis get_ops_s at 1 client against native"
    parts: tuple[str, ...]  # "docker's published port cost 8 % (0.92×, 95% CI […])"

    def text(self) -> str:
        return f"{self.lead}: {'; '.join(self.parts)}." if self.parts else f"{self.lead}."


@dataclass(frozen=True)
class AppTable:
    workload: str
    client: str
    columns: tuple[str, ...]
    rows: tuple[AppRow, ...]
    findings: tuple[AppFinding, ...]
    beside: tuple[Beside, ...]
    tcg: bool
    curves: str | None = None  # SVG: the first throughput and its p99 against the client's values

    @property
    def finding(self) -> str:
        """The findings as sentences."""
        return " ".join(f.text() for f in self.findings)


@dataclass(frozen=True)
class _Series:
    base: str  # get_ops_s
    value: int | None  # 10, or None when the client ran once


@dataclass(frozen=True)
class _Column:
    """A platform, on one network path its client took (docker: its DNAT, then its proxy)."""
    platform: str
    path: str
    label: str


class _Figures:
    """A server workload's summary rows by metric, value, platform and path: the dimensions
    text of each, for looking its values up."""

    def __init__(self, run: LoadedRun, workload: str) -> None:
        self.parameter = ""
        self.at: dict[tuple[str, int | None, str], dict[str, str]] = {}  # (metric, value, platform) → path → dims
        for row in run.summary.of_workload(workload):
            metric, dimensions, platform = row.metric, row.dimensions, row.platform
            found = parse_dimensions(dimensions)
            path = found.pop(PATH, "")
            if STRESS in found or len(found) > 1:
                continue
            value = None
            if found:
                ((self.parameter, text),) = found.items()
                value = int(text) if text.isdigit() else None
            self.at.setdefault((metric, value, platform), {})[path] = dimensions

    def dimensions(self, metric: str, value: int | None, platform: str, path: str | None = None) -> str | None:
        """The dimensions of a figure at a value on a platform: on `path`, or on the platform's
        own path (Docker's DNAT rather than its userland proxy)."""
        paths = self.at.get((metric, value, platform), {})
        if path is None:
            own = [d for p, d in paths.items() if p != PROXY] or list(paths.values())
            return next(iter(own), None)
        return paths.get(path)

    def series(self) -> list[_Series]:
        valued = {(m, v) for m, v, _ in self.at if v is not None}
        return [_Series(m, v) for m, v in sorted(valued or {(m, v) for m, v, _ in self.at}, key=lambda mv: (mv[0], mv[1] or 0))]

    def columns(self, run: LoadedRun, shown: list[str], metrics: set[str]) -> list[_Column]:
        """Each platform but native on each path its client took for these metrics."""
        found = []
        for platform in shown:
            if platform == "native":
                continue
            paths = list(dict.fromkeys(p for (m, _, pl), by_path in self.at.items()
                                       if pl == platform and m in metrics for p in by_path))
            for path in paths:
                name = column_name(platform, run)
                found.append(_Column(platform, path, f"{name} ({path})" if len(paths) > 1 else name))
        return found


def published() -> list[Published]:
    data = tomllib.loads(PUBLISHED.read_text())
    return [Published(**entry) for entry in data.get("figure", [])]


def _served(run: LoadedRun) -> dict[str, str]:
    """workload → its client, for each server workload of the run."""
    found: dict[str, str] = {}
    for record in run.counted:
        client = record.facts.get("network_client")
        if client and record.workload not in found:
            found[record.workload] = client
    return found


def _series(run: LoadedRun, figures: _Figures, workload: str) -> list[_Series]:
    """The workload's series at each of its client's values, in the workload's own order."""
    listed = _listed_order(run, workload)
    return sorted(figures.series(), key=lambda s: (listed.get(s.base, len(listed)), s.base, s.value or 0))


def _listed_order(run: LoadedRun, workload: str) -> dict[str, int]:
    """Each metric's place in the workload's own list, as its trials recorded them."""
    order: dict[str, int] = {}
    for record in run.counted:
        if record.workload == workload:
            for sample in record.samples:
                order.setdefault(sample.metric, len(order))
    return order


def _p99_of(base: str, bases: set[str]) -> str | None:
    """The latency p99 beside a throughput: the same prefix's (get_ops_s → get_p99_ms), else
    the workload's only p99 (tps → latency_p99_ms)."""
    p99s = sorted(b for b in bases if b.startswith("p99") or "_p99" in b)
    same = [b for b in p99s if b.split("p99")[0].rstrip("_") == base.split("_")[0]]
    return same[0] if same else (p99s[0] if len(p99s) == 1 else None)


def _ratio(run: LoadedRun, figures: _Figures, workload: str, metric: str, value: int | None, platform: str,
           path: str | None = None, against: str = "native") -> Ratio | None:
    """A platform's figure (on a path, or its first) over native's (on its own path)."""
    top, bottom = figures.dimensions(metric, value, platform, path), figures.dimensions(metric, value, against)
    if top is None or bottom is None:
        return None
    return ratio_between(run, workload, metric, platform, against, top, bottom)


def _cell(ratio: Ratio | None, run: LoadedRun, platform: str) -> Cell:
    if ratio is None:
        return Cell("—")
    detail = f"95% CI {units.ratio_interval(ratio.low, ratio.high)}"
    if is_vm(platform) and "tcg" in run.vm_accels:
        detail += "; TCG emulation"
    return Cell(units.ratio(ratio.value), detail)


def _at(value: int | None, parameter: str) -> str:
    """' at 10 clients', ' at 1 client'."""
    if value is None:
        return ""
    return f" at {value} {parameter.removesuffix('s') if value == 1 else parameter}"


def _effect(ratio: Ratio, better: str = "higher") -> str:
    """What a ratio to native says: within noise, a cost or a gain (throughput: higher is better)."""
    measured = f"{units.ratio(ratio.value)}, 95% CI {units.ratio_interval(ratio.low, ratio.high)}"
    if ratio.low <= 1 <= ratio.high:
        if 1 - NOTHING <= ratio.low and ratio.high <= 1 + NOTHING:
            return f"cost nothing within noise ({measured})"
        return f"could not be told apart from native ({measured}: too wide to say)"
    worse = ratio.value < 1 if better == "higher" else ratio.value > 1
    return f"{'cost' if worse else 'gained'} {abs(1 - ratio.value) * 100:.0f} % ({measured})"


WHY = {DNAT: "'s published port", PROXY: "'s published port on localhost (its userland proxy)",
       HOST: "'s host network"}  # how a platform's server was reached, in a few words


def _finding(run: LoadedRun, figures: _Figures, workload: str, rates: list[_Series],
             columns: list[_Column]) -> tuple[AppFinding, ...]:
    """The first throughput at its lowest and highest value: each platform's cost, named."""
    first = [s for s in rates if s.base == rates[0].base]
    found = []
    for s in dict.fromkeys([first[0], first[-1]]):
        parts = []
        for column in columns:
            ratio = _ratio(run, figures, workload, s.base, s.value, column.platform, column.path)
            if ratio is None:
                continue
            tcg = is_vm(column.platform) and "tcg" in run.vm_accels
            note = " (TCG: an emulator's cost, not a hypervisor's)" if tcg else ""
            parts.append(f"{column_name(column.platform, run)}{WHY.get(column.path, '')} {_effect(ratio)}{note}")
        if parts:
            found.append(AppFinding(f"{workload} {s.base}{_at(s.value, figures.parameter)} against native", tuple(parts)))
    return tuple(found) or (AppFinding(f"{workload}: no platform ran beside native, so no ratio could be formed", ()),)


def _beside(run: LoadedRun, figures: _Figures, workload: str, series: list[_Series]) -> list[Beside]:
    """Each published figure for this workload beside this run's own (the platform's first path)."""
    found = []
    for figure in published():
        if figure.workload != workload:
            continue
        for s in series:
            if s.base != figure.metric or (figure.at is not None and s.value != figure.at):
                continue
            ratio = _ratio(run, figures, workload, s.base, s.value, figure.platform, against=figure.against)
            ours = (f"{column_name(figure.platform, run)} ÷ {figure.against}{_at(s.value, figures.parameter)}: "
                    + (ratio.text() if ratio else "not measured in this run"))
            found.append(Beside(figure.setting, figure.source, units.ratio(figure.ratio), ours))
    return found


@dataclass(frozen=True)
class _Served:
    """A server workload's figures: its series, and those of them that are throughputs."""
    workload: str
    client: str
    figures: _Figures
    series: list[_Series]
    units_of: dict[str, str]
    rates: list[_Series]


def _served_figures(run: LoadedRun) -> Iterator[_Served]:
    """Each server workload of the run that measured a throughput."""
    for workload, client in _served(run).items():
        figures = _Figures(run, workload)
        series = _series(run, figures, workload)
        units_of = {r.metric: r.unit for r in run.summary.of_workload(workload)}
        rates = [s for s in series if units_of.get(s.base) in RATE_UNITS]
        if rates:
            yield _Served(workload, client, figures, series, units_of, rates)


def tables(run: LoadedRun) -> list[AppTable]:
    shown = platforms(run)
    found = []
    for served in _served_figures(run):
        workload, client, figures, series = served.workload, served.client, served.figures, served.series
        units_of, rates = served.units_of, served.rates
        bases = {s.base for s in series}
        shown_metrics = {b for s in rates for b in (s.base, _p99_of(s.base, bases)) if b is not None}
        columns = figures.columns(run, shown, shown_metrics)
        first = rates[0].base
        plotted = [(b, units_of[b]) for b in (first, _p99_of(first, bases)) if b is not None]
        rows = []
        for s in rates:
            for base in (s.base, _p99_of(s.base, bases)):
                if base is None:
                    continue
                at = figures.dimensions(base, s.value, "native")
                native = run.row(workload, base, "native", at) if at is not None else None
                rows.append(AppRow(f"{base}{_at(s.value, figures.parameter)}",
                                   units.human(native.median, native.unit) if native is not None else "not measured",
                                   tuple(_cell(_ratio(run, figures, workload, base, s.value, c.platform, c.path), run,
                                               c.platform) for c in columns)))
        parameter = figures.parameter
        found.append(AppTable(workload, client, tuple(c.label for c in columns), tuple(rows),
                              _finding(run, figures, workload, rates, columns),
                              tuple(_beside(run, figures, workload, series)),
                              "tcg" in run.vm_accels and any(is_vm(p) for p in shown),
                              charts.curves_chart(run, workload, plotted, parameter) if parameter else None))
    return found


@dataclass(frozen=True)
class AppHeadline:
    """A server workload's figure for the scorecard: its first throughput (or that throughput's
    p99) at the client's highest value, each platform on its own path against native."""
    workload: str
    metric: str  # get_ops_s
    at: str  # " at 50 clients"
    better: str
    ratios: dict[str, Ratio]  # platform → its ratio to native


def headlines(run: LoadedRun) -> list[AppHeadline]:
    found = []
    for served in _served_figures(run):
        workload, figures, rates = served.workload, served.figures, served.rates
        top = [s for s in rates if s.base == rates[0].base][-1]
        p99 = _p99_of(top.base, {s.base for s in served.series})
        for metric, better in ((top.base, "higher"), (p99, "lower")):
            if metric is None:
                continue
            ratios = {p: ratio for p in platforms(run) if p != "native"
                      if (ratio := _ratio(run, figures, workload, metric, top.value, p)) is not None}
            found.append(AppHeadline(workload, metric, _at(top.value, figures.parameter), better, ratios))
    return found
