"""summary.csv: one row per series (platform × workload × metric × dimensions), computed from
the trials' samples.

Only successful trials that are not warm-ups count. Ratios are to native's median of the same
workload, metric and dimensions, when native ran it; a server's figures are compared whatever
network path each platform's client took (native's is loopback; docker's DNAT and its proxy are
both held against it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from typing import Any

import pandas as pd

from bench.analysis import stats
from bench.analysis.tables import text_table
from bench.model import registry, units
from bench.model.registry import label
from bench.model.dimensions import PATH
from bench.model.sample import Better, dimensions_order, without_dimension
from bench.model.series import SeriesKey, at_dimensions
from bench.model.trial import TrialRecord



@dataclass(frozen=True)
class SummaryRow:
    """One series' statistics over the run's counted trials (a line of summary.csv)."""

    workload: str
    metric: str
    dimensions: str
    platform: str
    accel: str
    unit: str
    better: Better
    n: int
    median: float
    q1: float
    q3: float
    iqr: float
    ci_low: float
    ci_high: float
    mean: float
    cv: float
    ratio_to_native: float  # nan where native did not measure the series (or a value is not positive)
    ratio_ci_low: float
    ratio_ci_high: float
    # The cell's measured trials that other processes disturbed (probes/disturbance.py): counted
    # without [precision], set aside under it; 0 in a summary.csv from before it was measured.
    disturbed: int = 0

    @property
    def key(self) -> SeriesKey:
        return SeriesKey(self.workload, self.platform, self.accel, self.metric, self.dimensions, self.unit,
                         self.better)

    @property
    def has_ratio(self) -> bool:
        return not math.isnan(self.ratio_to_native)


COLUMNS = [f.name for f in fields(SummaryRow)]
_INTS = {"n", "disturbed"}
_TEXTS = {f.name for f in fields(SeriesKey)}


@dataclass(frozen=True)
class Summary:
    """A run's summary: its rows ordered by workload, metric, dimensions and platform."""

    rows: tuple[SummaryRow, ...] = ()

    def __iter__(self) -> Iterator[SummaryRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def empty(self) -> bool:
        return not self.rows

    def find(self, workload: str, metric: str, platform: str, dimensions: str = "") -> SummaryRow | None:
        """The row of one metric (at its dimensions) of one workload on one platform, if measured."""
        return next((r for r in self.rows if (r.workload, r.metric, r.platform, r.dimensions)
                     == (workload, metric, platform, dimensions)), None)

    def of_workload(self, workload: str) -> list[SummaryRow]:
        return [r for r in self.rows if r.workload == workload]

    def workloads_with(self, metric: str) -> list[str]:
        """The workloads that measured `metric`, in the summary's order."""
        return list(dict.fromkeys(r.workload for r in self.rows if r.metric == metric))

    def to_frame(self) -> pd.DataFrame:
        """The table summary.csv holds."""
        return pd.DataFrame([astuple(r) for r in self.rows], columns=COLUMNS)

    @classmethod
    def from_frame(cls, table: pd.DataFrame) -> Summary:
        """From summary.csv as pandas reads it (an empty dimensions field is "no dimensions")."""
        def cell(name: str, value: Any) -> Any:
            if name in _TEXTS:
                return "" if isinstance(value, float) and math.isnan(value) else str(value)
            return int(value) if name in _INTS else float(value)
        return cls(tuple(SummaryRow(**{name: cell(name, row[name]) for name in COLUMNS if name in row})
                         for row in table.to_dict(orient="records")))


def series_values(records: Iterable[TrialRecord]) -> dict[SeriesKey, list[float]]:
    """Each series' values in the counted trials, in trial order."""
    values: dict[SeriesKey, list[float]] = {}
    for record in records:
        if record.counted:
            for s in record.quantities:
                values.setdefault(SeriesKey.of(s), []).append(float(s.value))
    return values


def cell_counts(records: Iterable[TrialRecord], which: Callable[[TrialRecord], bool]) -> dict[tuple[str, str], int]:
    """(platform, workload) → its successful measured (not warm-up) trials for which `which` holds."""
    found: dict[tuple[str, str], int] = {}
    for r in records:
        if r.ok and not r.warmup and which(r):
            found[(r.platform, r.workload)] = found.get((r.platform, r.workload), 0) + 1
    return found


def summarise(records: Iterable[TrialRecord]) -> Summary:
    records = list(records)
    values = series_values(records)
    disturbed = cell_counts(records, lambda r: bool(r.disturbed))
    natives = {(key.workload, key.metric, without_dimension(key.dimensions, PATH)): v
               for key, v in values.items() if key.platform == "native"}
    rows = []
    for key, vals in values.items():
        native = natives.get((key.workload, key.metric, without_dimension(key.dimensions, PATH)))
        ci = stats.median_ci(vals)
        q1, q3 = stats.iqr(vals)
        med = stats.median(vals)
        ratio = ratio_low = ratio_high = math.nan
        # A ratio only means something between two positive quantities (a memory drop below
        # the noise can read negative).
        if native is not None and stats.median(native) > 0 and med > 0:
            ratio = med / stats.median(native)
            interval = stats.ratio_ci(vals, native)
            ratio_low, ratio_high = interval.low, interval.high
        rows.append(SummaryRow(key.workload, key.metric, key.dimensions, key.platform, key.accel, key.unit,
                               key.better, len(vals), med, q1, q3, q3 - q1, ci.low, ci.high, sum(vals) / len(vals),
                               stats.cv(vals), ratio, ratio_low, ratio_high,
                               disturbed.get((key.platform, key.workload), 0)))
    # Stable: the rows of one position keep their first trial's order (an accelerator's).
    ordered = sorted(rows, key=lambda r: (r.workload, r.metric, dimensions_order(r.dimensions),
                                          registry.order(r.platform)))
    return Summary(tuple(ordered))


HEADLINE = ("boot_s", "teardown_s", "score", "host_cpu_s", "mem_pss_mean_mib", "mem_pss_settled_mib", "vmm_overhead_mib",
            "image_mib", "instance_disk_mib", "read_mib_s", "write_mib_s", "randread_iops", "randwrite_iops",
            "seqwrite_mib_s", "randread_p99_us", "randwrite_p99_us", "density_mem_mib", "density_pss_mib",
            "density_per_gib", "density_start_first_s", "density_start_last_s", "density_disk_mib")


def table_text(summary: Summary, everything: bool = False) -> str:
    """The terminal table `bench run` ends with: the headline metrics unless told otherwise."""
    if summary.empty:
        return "no successful measured trials"
    shown = [r for r in summary if everything or (r.metric in HEADLINE and not r.dimensions)]
    rows = []
    for row in shown:
        ratio = units.ratio(row.ratio_to_native) if row.has_ratio else ""
        cv = "" if math.isnan(row.cv) else f"{row.cv * 100:.1f}%"
        figure = units.figure(row.median, row.ci_low, row.ci_high, row.unit, row.better)
        rows.append([row.workload, at_dimensions(row.metric, row.dimensions), label(row.platform, row.accel), str(row.n), figure,
                     units.interval(row.ci_low, row.ci_high, row.unit, row.median), cv, ratio, str(row.disturbed or "")])
    header = ["workload", "metric", "platform", "n", "median", "95% CI", "CV", "× native", "disturbed"]
    if not any(row.disturbed for row in shown):
        header, rows = header[:-1], [row[:-1] for row in rows]
    return "\n".join(text_table(header, rows))
