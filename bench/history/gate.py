"""`bench history check RUN_DIR`: the CI gate on the history.

The run is added to the history, then each of its metrics is judged against the current
stable segment of that series on the same host: every run since the series' last change
point (before this run), its trial values pooled. The judgement and the report are those of
`bench compare` (analysis/judgement.py).
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from bench.analysis.judgement import GateReport, Judgement, judge, unjudged
from bench.history import changepoints, detect, ingest, schema
from bench.history.ingest import PointData, RunData
from bench.history.store import Store


def _trial_values(conn: sa.Connection, series_id: int, run_pks: list[int]) -> list[float]:
    p = schema.points
    rows = conn.execute(sa.select(p.c.trial_values).where(p.c.series_id == series_id, p.c.run_id.in_(run_pks)))
    return [float(v) for row in rows for v in json.loads(row.trial_values)]


def check(store: Store, run: RunData, threshold: float = 0.10, alpha: float = 0.01,
          settings: changepoints.Settings = changepoints.Settings(), seed: int = 0) -> GateReport:
    ((stored, added),) = ingest.add(store, [run])
    history = {s.key.identity: s for s in detect.load_series(store, stored.host.fingerprint, before=run.started_at)}
    title = f"run {run.run_id} on {run.host.name}" + ("" if added else " (already in the history)")
    result = GateReport(
        "bench history check", title,
        f"Run `{run.run_id}` on `{run.host.name}` against each series' stable segment (the runs since its last "
        f"change point); threshold {threshold:.0%}, alpha {alpha:g} (one-sided Mann-Whitney U of trial values).",
        {"run_id": run.run_id, "host": run.host.name, "added": added}, threshold, alpha, [],
        counted_as="metrics judged against their stable segments", with_accel=True, against_column="segment")
    with store.reading() as conn:
        for point in run.points:
            result.changes.append(_judgement(conn, point, history.get(point.series.identity), threshold, alpha,
                                             settings, seed))
    return result


def _judgement(conn: sa.Connection, point: PointData, series: detect.Series | None, threshold: float, alpha: float,
               settings: changepoints.Settings, seed: int) -> Judgement:
    key, current = point.series, list(point.values)
    if series is None:
        return unjudged(key, current)
    shifts = changepoints.detect(series.medians, settings)
    segment = series.runs[shifts[-1].index if shifts else 0:]
    baseline = _trial_values(conn, series.series_id, [r.pk for r in segment])
    return judge(key, baseline, current, threshold, alpha, seed,
                 against=f"{len(segment)} run(s) since {segment[0].run_id}")
