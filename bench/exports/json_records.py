"""Everything in one JSON document: run.json, every trial record and the summary rows."""

from __future__ import annotations

import json
import math

from bench.rundir.runs import LoadedRun

DEFAULT_NAME = "results.json"


def _clean(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


def render(run: LoadedRun) -> dict[str, str]:
    summary = [{k: _clean(v) for k, v in row.items()} for row in run.summary.to_dict(orient="records")]
    document = {"run": run.info, "trials": [r.to_json() for r in sorted(run.records, key=lambda r: r.seq)],
                "summary": summary}
    return {DEFAULT_NAME: json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"}
