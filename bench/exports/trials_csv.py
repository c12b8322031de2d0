"""One CSV row per trial: its outcome, then one column per metric at its dimensions (named with
its unit: `get_ops_s at clients=10 [ops/s]`)."""

from __future__ import annotations

import pandas as pd

from bench.model.sample import dimensions_text
from bench.model.series import at_dimensions
from bench.rundir.runs import LoadedRun

DEFAULT_NAME = "trials.csv"
COLUMNS = ["run_id", "seq", "repetition", "warmup", "platform", "accel", "workload", "status", "reason",
           "started_at", "duration_s", "score", "score_unit", "exit_code", "ready_s", "result_s", "teardown_s"]


def render(run: LoadedRun) -> dict[str, str]:
    rows = []
    for record in sorted(run.records, key=lambda r: r.seq):
        row = {column: getattr(record, column) for column in COLUMNS}
        row.update({f"{at_dimensions(s.metric, dimensions_text(s.dimensions))} [{s.unit}]": s.value
                    for s in record.quantities})
        rows.append(row)
    metric_columns = sorted({c for row in rows for c in row} - set(COLUMNS))
    return {DEFAULT_NAME: pd.DataFrame(rows, columns=COLUMNS + metric_columns).to_csv(index=False)}
