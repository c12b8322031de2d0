"""summary.csv: one row per series (platform × workload × metric × dimensions), computed from
the trials' samples.

Only successful trials that are not warm-ups count. Ratios are to native's median of the same
workload, metric and dimensions, when native ran it; a server's figures are compared whatever
network path each platform's client took (native's is loopback; docker's DNAT and its proxy are
both held against it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from bench.analysis import stats
from bench.analysis.tables import text_table
from bench.model import registry, units
from bench.model.registry import label
from bench.model.dimensions import PATH
from bench.model.sample import dimensions_order, without_dimension
from bench.model.series import SeriesKey, at_dimensions
from bench.model.trial import TrialRecord

COLUMNS = ["workload", "metric", "dimensions", "platform", "accel", "unit", "better", "n", "median", "q1", "q3",
           "iqr", "ci_low", "ci_high", "mean", "cv", "ratio_to_native", "ratio_ci_low", "ratio_ci_high"]


def series_values(records: Iterable[TrialRecord]) -> dict[SeriesKey, list[float]]:
    """Each series' values in the counted trials, in trial order."""
    values: dict[SeriesKey, list[float]] = {}
    for record in records:
        if record.counted:
            for s in record.quantities:
                values.setdefault(SeriesKey.of(s), []).append(float(s.value))
    return values


def summarise(records: Iterable[TrialRecord]) -> pd.DataFrame:
    values = series_values(records)
    if not values:
        return pd.DataFrame(columns=COLUMNS)
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
        rows.append({**key.as_dict(), "n": len(vals), "median": med, "q1": q1, "q3": q3,
                     "iqr": q3 - q1, "ci_low": ci.low, "ci_high": ci.high, "mean": sum(vals) / len(vals),
                     "cv": stats.cv(vals), "ratio_to_native": ratio, "ratio_ci_low": ratio_low,
                     "ratio_ci_high": ratio_high})
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["_order"] = table["platform"].map(registry.order)
    table["_dimensions"] = table["dimensions"].map(dimensions_order)
    ordered = table.sort_values(["workload", "metric", "_dimensions", "_order"], kind="stable")
    return ordered.drop(columns=["_order", "_dimensions"]).reset_index(drop=True)


HEADLINE = ("boot_s", "teardown_s", "score", "host_cpu_s", "mem_pss_mean_mib", "mem_pss_settled_mib", "vmm_overhead_mib",
            "image_mib", "instance_disk_mib", "read_mib_s", "write_mib_s", "randread_iops", "randwrite_iops",
            "seqwrite_mib_s", "randread_p99_us", "randwrite_p99_us", "density_mem_mib", "density_pss_mib",
            "density_per_gib", "density_start_first_s", "density_start_last_s", "density_disk_mib")


def table_text(summary: pd.DataFrame, everything: bool = False) -> str:
    """The terminal table `bench run` ends with: the headline metrics unless told otherwise."""
    if summary.empty:
        return "no successful measured trials"
    shown = summary if everything else summary[summary["metric"].isin(HEADLINE) & (summary["dimensions"] == "")]
    rows = []
    for row in shown.itertuples():
        ratio = "" if math.isnan(row.ratio_to_native) else units.ratio(row.ratio_to_native)
        cv = "" if math.isnan(row.cv) else f"{row.cv * 100:.1f}%"
        figure = units.figure(row.median, row.ci_low, row.ci_high, row.unit, row.better)
        rows.append([row.workload, at_dimensions(row.metric, row.dimensions), label(row.platform, row.accel), str(row.n), figure,
                     units.interval(row.ci_low, row.ci_high, row.unit, row.median), cv, ratio])
    return "\n".join(text_table(["workload", "metric", "platform", "n", "median", "95% CI", "CV", "× native"], rows))
