"""The report's Applications section: each server workload's throughput and p99 on every
platform as a ratio to native with its CI, published figures from other hardware beside them,
and a finding sentence derived from the run's own numbers.

A server workload is one whose trials recorded a host-side client (the `network_client`
fact). Its figures carry the client's value as a dimension (`get_ops_s` at clients=10).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.model import units
from bench.model.registry import is_vm
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
class Row:
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
class Finding:
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
    rows: tuple[Row, ...]
    findings: tuple[Finding, ...]
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
    dimensions: str  # clients=10


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


def _series(run: LoadedRun, workload: str) -> tuple[list[_Series], str]:
    """The workload's series at each of its client's values, and what those values count
    (clients); every series, and "", when the client ran once."""
    metrics = run.summary[run.summary.workload == workload][["metric", "dimensions"]].drop_duplicates()
    valued, once = [], []
    parameter = ""
    for metric, dimensions in metrics.itertuples(index=False):
        found = parse_dimensions(dimensions)
        if len(found) == 1:
            ((parameter, value),) = found.items()
            valued.append(_Series(metric, int(value) if value.isdigit() else None, dimensions))
        elif not found:
            once.append(_Series(metric, None, ""))
    listed = _listed_order(run, workload)
    chosen = valued or once
    return sorted(chosen, key=lambda s: (listed.get(s.base, len(listed)), s.base, s.value or 0)), parameter


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


def _cell(run: LoadedRun, workload: str, metric: str, dimensions: str, platform: str) -> Cell:
    ratio = ratio_between(run, workload, metric, platform, "native", dimensions)
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


def _why(run: LoadedRun, platform: str, workload: str) -> str:
    """How the platform's server was reached, in a word, from its recorded network path."""
    record = run.first_counted(platform, workload)
    path = record.facts.get("network_path", "") if record else ""
    if " published (-p) " in path:
        return "'s published port"
    if path.startswith("the host's network namespace"):
        return "'s host network"
    return ""


def _finding(run: LoadedRun, workload: str, series: list[_Series], parameter: str,
             shown: list[str]) -> tuple[Finding, ...]:
    """The first throughput at its lowest and highest value: each platform's cost, named."""
    rates = [s for s in series if s.base == series[0].base]
    found = []
    for s in dict.fromkeys([rates[0], rates[-1]]):
        parts = []
        for platform in shown:
            ratio = ratio_between(run, workload, s.base, platform, "native", s.dimensions) if platform != "native" else None
            if ratio is None:
                continue
            note = " (TCG: an emulator's cost, not a hypervisor's)" if is_vm(platform) and "tcg" in run.vm_accels else ""
            parts.append(f"{column_name(platform, run)}{_why(run, platform, workload)} {_effect(ratio)}{note}")
        if parts:
            found.append(Finding(f"{workload} {s.base}{_at(s.value, parameter)} against native", tuple(parts)))
    return tuple(found) or (Finding(f"{workload}: no platform ran beside native, so no ratio could be formed", ()),)


def _beside(run: LoadedRun, workload: str, series: list[_Series], parameter: str) -> list[Beside]:
    found = []
    for figure in published():
        if figure.workload != workload:
            continue
        for s in series:
            if s.base != figure.metric or (figure.at is not None and s.value != figure.at):
                continue
            ratio = ratio_between(run, workload, s.base, figure.platform, figure.against, s.dimensions)
            ours = (f"{column_name(figure.platform, run)} ÷ {figure.against}{_at(s.value, parameter)}: "
                    + (ratio.text() if ratio else "not measured in this run"))
            found.append(Beside(figure.setting, figure.source, units.ratio(figure.ratio), ours))
    return found


def tables(run: LoadedRun) -> list[AppTable]:
    shown = platforms(run)
    found = []
    for workload, client in _served(run).items():
        series, parameter = _series(run, workload)
        units_of = dict(run.summary[run.summary.workload == workload][["metric", "unit"]].itertuples(index=False))
        rates = [s for s in series if units_of.get(s.base) in RATE_UNITS]
        if not rates:
            continue
        bases = {s.base for s in series}
        first = rates[0].base
        plotted = [(b, units_of[b]) for b in (first, _p99_of(first, bases)) if b is not None]
        rows = []
        for s in rates:
            p99 = _p99_of(s.base, bases)
            for base in (s.base, p99):
                if base is None:
                    continue
                native = run.row(workload, base, "native", s.dimensions)
                rows.append(Row(f"{base}{_at(s.value, parameter)}",
                                units.human(native["median"], native["unit"]) if native is not None else "not measured",
                                tuple(_cell(run, workload, base, s.dimensions, p) for p in shown if p != "native")))
        found.append(AppTable(workload, client, tuple(column_name(p, run) for p in shown if p != "native"),
                              tuple(rows), _finding(run, workload, rates, parameter, shown),
                              tuple(_beside(run, workload, series, parameter)),
                              "tcg" in run.vm_accels and any(is_vm(p) for p in shown),
                              charts.curves_chart(run, workload, plotted, parameter) if parameter else None))
    return found
