"""`bench history detect`: the change points of every host × series, in run order.

Each change point names its host and series, the last run before it and the first after, the
levels either side, the relative change and its p, whether it is a regression (by the metric's
better direction), and what changed in the stack between those two runs. Its id is stable
(host, series and the first run after), so `bench history ack ID` outlives later analyses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from bench.errors import BenchError
from bench.history import changepoints, schema
from bench.history.changepoints import Settings
from bench.history.ingest import IMPORTED
from bench.history.store import Store
from bench.model.series import SeriesKey

REGRESSION, IMPROVEMENT = "regression", "improvement"


@dataclass(frozen=True)
class RunRef:
    pk: int
    run_id: str
    started_at: str
    stack: dict[str, str]


@dataclass
class Series:
    """One host's points of one series, in run order (excluded runs left out)."""

    host_fingerprint: str
    host: str
    series_id: int
    key: SeriesKey
    runs: list[RunRef] = field(default_factory=list)
    medians: list[float] = field(default_factory=list)
    intervals: list[tuple[float, float]] = field(default_factory=list)  # each median's 95% CI


@dataclass(frozen=True)
class ChangePoint:
    id: str
    host: str
    host_fingerprint: str
    key: SeriesKey
    last_before: str  # run ids
    first_after: str
    first_after_at: str
    range_first: str  # the first run at the new level is one of range_first .. range_last (95%)
    range_last: str
    level_before: float
    level_after: float
    change: float
    p: float
    kind: str  # regression | improvement
    stack_changes: dict[str, list[str]]  # what differs between last_before and first_after: [before, after]
    acked: str | None = None  # the reason given to `bench history ack`

    @property
    def series(self) -> str:
        return self.key.name

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        head = {name: data.pop(name) for name in ("id", "host", "host_fingerprint")}
        return {**head, "series": self.series, **data.pop("key"), **data}


def change_id(series: Series, first_after: str) -> str:
    key = series.key
    # A series without dimensions keeps the id it had before series had them.
    metric = f"{key.metric}|{key.dimensions}" if key.dimensions else key.metric
    text = "|".join([series.host_fingerprint, key.workload, key.platform, key.accel, metric, first_after])
    return "cp-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def stack_of_row(row: sa.Row) -> dict[str, str]:
    stack = {name: getattr(row, name) for name in schema.STACK}
    stack.update({f"label {k}": v for k, v in json.loads(row.labels).items()})
    return stack


def stack_changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    return {k: [before.get(k, ""), after.get(k, "")] for k in sorted(set(before) | set(after))
            if before.get(k, "") != after.get(k, "")}


def host_filter(conn: sa.Connection, host: str | None) -> list[str] | None:
    """The fingerprints `--host` means: a name, or a fingerprint or its prefix."""
    if host is None:
        return None
    hosts = schema.hosts
    found = [row.fingerprint for row in conn.execute(sa.select(hosts.c.fingerprint, hosts.c.name))
             if host in (row.name, row.fingerprint, row.fingerprint.removeprefix(IMPORTED))
             or row.fingerprint.startswith(host)]
    if not found:
        raise BenchError(f"--host: no host {host!r} in the history")
    return found


def load_series(store: Store, host: str | None = None, before: str | None = None) -> Iterator[Series]:
    """Every host × series with its medians in run order; only runs started before `before`
    when given."""
    h, r, s, p = schema.hosts, schema.runs, schema.series, schema.points
    query = (sa.select(h.c.fingerprint, h.c.name.label("host"), s.c.id.label("series_id"), s.c.workload,
                       s.c.platform, s.c.accel, s.c.metric, s.c.dimensions, s.c.unit, s.c.better, r.c.id.label("run_pk"),
                       r.c.run_id, r.c.started_at, r.c.labels, *(r.c[name] for name in schema.STACK), p.c.median,
                       p.c.ci_low, p.c.ci_high)
             .select_from(p.join(r, p.c.run_id == r.c.id).join(h, r.c.host_id == h.c.id).join(s, p.c.series_id == s.c.id))
             .where(r.c.excluded.is_(None))
             .order_by(h.c.fingerprint, s.c.id, r.c.started_at, r.c.run_id))
    with store.reading() as conn:
        wanted = host_filter(conn, host)
        if wanted is not None:
            query = query.where(h.c.fingerprint.in_(wanted))
        if before is not None:
            query = query.where(r.c.started_at < before)
        current: Series | None = None
        refs: dict[int, RunRef] = {}  # a run's row repeats for each of its series
        for row in conn.execute(query):
            if current is None or (current.host_fingerprint, current.series_id) != (row.fingerprint, row.series_id):
                if current is not None:
                    yield current
                current = Series(row.fingerprint, row.host, row.series_id, SeriesKey.read(row))
            ref = refs.get(row.run_pk)
            if ref is None:
                ref = refs[row.run_pk] = RunRef(row.run_pk, row.run_id, row.started_at, stack_of_row(row))
            current.runs.append(ref)
            current.medians.append(row.median)
            current.intervals.append((row.ci_low, row.ci_high))
        if current is not None:
            yield current


def changes_of(series: Series, settings: Settings = Settings()) -> list[ChangePoint]:
    found = []
    key = series.key
    for shift in changepoints.detect(series.medians, settings):
        before, after = series.runs[shift.index - 1], series.runs[shift.index]
        worse = shift.change > 0 if key.better == "lower" else shift.change < 0
        found.append(ChangePoint(
            change_id(series, after.run_id), series.host, series.host_fingerprint, key, before.run_id, after.run_id,
            after.started_at, series.runs[shift.first].run_id, series.runs[shift.last].run_id, shift.before,
            shift.after, shift.change, shift.p, REGRESSION if worse else IMPROVEMENT,
            stack_changes(before.stack, after.stack)))
    return found


def detect(store: Store, host: str | None = None, since: str | None = None,
           settings: Settings = Settings()) -> list[ChangePoint]:
    """Every change point of the history (those whose first run after started at `since` or
    later, when given), acknowledged ones marked."""
    with store.reading() as conn:
        acked = {row.change_id: row.reason for row in conn.execute(sa.select(schema.acks))}
    found = []
    for series in load_series(store, host):
        for change in changes_of(series, settings):
            if since is None or change.first_after_at >= since:
                found.append(dataclasses.replace(change, acked=acked.get(change.id)))
    return sorted(found, key=lambda c: (c.first_after_at, c.host, c.series))
