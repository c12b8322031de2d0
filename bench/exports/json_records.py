"""Everything in one JSON document: run.json, every trial record and the summary rows."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

from bench.rundir.runs import LoadedRun

DEFAULT_NAME = "results.json"


def _clean(value: object) -> object:
    """JSON has no NaN or infinity: a ratio's interval with no upper bound (a native value of
    0 among its trials) is null, as a missing one is."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def render(run: LoadedRun) -> dict[str, str]:
    summary = [{k: _clean(v) for k, v in asdict(row).items()} for row in run.summary]
    document = {"run": run.info.to_json(), "trials": [r.to_json() for r in sorted(run.records, key=lambda r: r.seq)],
                "summary": summary}
    return {DEFAULT_NAME: json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"}
