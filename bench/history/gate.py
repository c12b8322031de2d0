"""`bench history check RUN_DIR`: the CI gate on the history.

The run is added to the history, then each of its metrics is judged against the current
stable segment of that series on the same host: every run since the series' last change
point (before this run). As in `bench compare`, a regression is a change of the median worse
than the threshold AND a one-sided rank test of the run's trial values against the segment's
at alpha; the judgement is `compare.judge`, on the same statistics module.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from bench.analysis import stats
from bench.analysis.compare import REGRESSION, STATUS_ORDER, judge
from bench.analysis.tables import markdown_table, percent, text_table
from bench.history import changepoints, detect, ingest, schema
from bench.history.ingest import PointData, RunData
from bench.history.store import Store

NO_HISTORY = "no history"


@dataclass(frozen=True)
class Verdict:
    series: str
    unit: str
    better: str
    status: str
    segment_runs: int  # runs in the stable segment judged against
    segment_since: str  # its first run
    baseline_median: float | None  # of the segment's pooled trial values
    current_median: float
    change: float | None
    p_worse: float | None
    min_p: float | None


@dataclass
class Check:
    run_id: str
    host: str
    added: bool  # False: the history had this run already
    threshold: float
    alpha: float
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def regressions(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == REGRESSION]

    def summary(self) -> str:
        if self.regressions:
            return f"{len(self.regressions)} regression(s): " + "; ".join(
                f"{v.series} {percent(v.change)}" for v in self.regressions)
        return (f"no regression beyond {self.threshold:.0%} at alpha {self.alpha:g} "
                f"({len(self.verdicts)} metrics judged against their stable segments)")

    HEADER = ["status", "series", "segment", "baseline", "current", "change", "direction", "p (worse)"]

    def _rows(self) -> list[list[str]]:
        order = {**STATUS_ORDER, NO_HISTORY: len(STATUS_ORDER)}
        rows = []
        for v in sorted(self.verdicts, key=lambda v: (order[v.status], v.series)):
            segment = f"{v.segment_runs} run(s) since {v.segment_since}" if v.segment_runs else "-"
            baseline = f"{v.baseline_median:.4g} {v.unit}" if v.baseline_median is not None else "-"
            rows.append([v.status, v.series, segment, baseline, f"{v.current_median:.4g} {v.unit}",
                         percent(v.change) if v.change is not None else "-", f"{v.better} is better",
                         f"{v.p_worse:.3g}" if v.p_worse is not None else "-"])
        return rows

    def text(self) -> str:
        lines = [f"run {self.run_id} on {self.host}" + ("" if self.added else " (already in the history)")]
        lines += text_table(self.HEADER, self._rows())
        lines.append(self.summary())
        return "\n".join(lines)

    def markdown(self) -> str:
        icon = ":x:" if self.regressions else ":white_check_mark:"
        lines = [f"### {icon} bench history check: {self.summary()}", "",
                 f"Run `{self.run_id}` on `{self.host}` against each series' stable segment (the runs since "
                 f"its last change point); threshold {self.threshold:.0%}, alpha {self.alpha:g} "
                 "(one-sided Mann-Whitney U of trial values).", ""]
        lines += markdown_table(self.HEADER, self._rows(), bold=REGRESSION)
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {"run_id": self.run_id, "host": self.host, "added": self.added, "threshold": self.threshold,
                "alpha": self.alpha, "regressions": [v.series for v in self.regressions],
                "verdicts": [{k: (None if isinstance(x, float) and not math.isfinite(x) else x)
                              for k, x in asdict(v).items()} for v in self.verdicts]}


def _trial_values(conn: sa.Connection, series_id: int, run_pks: list[int]) -> list[float]:
    p = schema.points
    rows = conn.execute(sa.select(p.c.trial_values).where(p.c.series_id == series_id, p.c.run_id.in_(run_pks)))
    return [float(v) for row in rows for v in json.loads(row.trial_values)]


def check(store: Store, run: RunData, threshold: float = 0.10, alpha: float = 0.01,
          settings: changepoints.Settings = changepoints.Settings(), seed: int = 0) -> Check:
    ((stored, added),) = ingest.add(store, [run])
    history = {s.key.identity: s for s in detect.load_series(store, stored.host.fingerprint, before=run.started_at)}
    result = Check(run.run_id, run.host.name, added, threshold, alpha)
    with store.reading() as conn:
        for point in run.points:
            result.verdicts.append(_verdict(conn, point, history.get(point.series.identity), threshold, alpha,
                                            settings, seed))
    return result


def _verdict(conn: sa.Connection, point: PointData, series: detect.Series | None, threshold: float, alpha: float,
             settings: changepoints.Settings, seed: int) -> Verdict:
    key, current = point.series, list(point.values)
    name = detect.series_name(key)
    if series is None:
        return Verdict(name, key.unit, key.better, NO_HISTORY, 0, "", None, stats.median(current), None, None, None)
    shifts = changepoints.detect(series.medians, settings)
    segment = series.runs[shifts[-1].index if shifts else 0:]
    baseline = _trial_values(conn, series.series_id, [r.pk for r in segment])
    status, change, p_worse, _, min_p = judge(baseline, current, key.better, threshold, alpha, seed)
    return Verdict(name, key.unit, key.better, status, len(segment), segment[0].run_id, stats.median(baseline),
                   stats.median(current), change, p_worse, min_p)
