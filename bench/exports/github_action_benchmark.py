"""github-action-benchmark's custom tool input: customSmallerIsBetter.json and
customBiggerIsBetter.json, one entry per series (its dimensions in its name) with its unit, the
median as the value and the 95% CI as the range. The action divides one run's value by the
previous run's: an entry whose value is 0 says in its `extra` that a ratio against it is
undefined."""

from __future__ import annotations

import json
import math

from bench.model.registry import label
from bench.analysis.summary import SummaryRow
from bench.rundir.runs import LoadedRun

DEFAULT_NAME = "github-action-benchmark"
FILES = {"lower": "customSmallerIsBetter.json", "higher": "customBiggerIsBetter.json"}


def _entry(row: SummaryRow) -> dict[str, str | float]:
    where = label(row.platform, row.accel)
    half_ci = (row.ci_high - row.ci_low) / 2
    cv = "" if math.isnan(row.cv) else f", CV {row.cv:.1%}"
    extra = f"median of {row.n} trials{cv}; 95% CI {row.ci_low:.4g}–{row.ci_high:.4g}"
    if row.median == 0:
        extra += ("; ZERO: below this probe's resolution, so a ratio against this value is undefined "
                  "(an alert comparing with it reads infinite)")
    return {"name": f"{row.workload} {row.key.measured} [{where}]", "unit": row.unit, "value": row.median,
            "range": f"± {half_ci:.4g}", "extra": extra}


def render(run: LoadedRun) -> dict[str, str]:
    entries: dict[str, list[dict[str, str | float]]] = {better: [] for better in FILES}
    for row in run.summary:
        entries[row.better].append(_entry(row))
    return {FILES[better]: json.dumps(items, indent=2) + "\n" for better, items in entries.items()}
