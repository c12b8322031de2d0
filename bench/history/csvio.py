"""`bench history import` / `export`: the history as CSV, one row per trial value.

Columns: host, run_id, started_at, workload, platform, accel, metric, dimensions, unit, better,
value. `dimensions` is `clients=10;stress=fork` or empty; a file without that column (written
before metrics had dimensions) has its older names read as model.legacy maps them. `better` is higher or lower for a quantity, or equal for a value every platform must reproduce
(hello's digest), whose value is that text. Export writes what import reads, so a history moves between stores (SQLite → PostgreSQL) or
takes in numbers measured elsewhere. An import file is checked whole before anything is
written, and written in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from bench.analysis import stats
from bench.definitions import legacy_names
from bench.errors import BenchError
from bench.history import ingest, schema
from bench.history.ingest import EqualValue, HostFacts, PointData, RunData
from bench.history.store import Store
from bench.model.sample import dimensions_text, parse_dimensions
from bench.model.series import FIELDS, SeriesKey

COLUMNS = ("host", "run_id", "started_at", *FIELDS, "value")
DIMENSIONS = "dimensions"
BETTER = ("higher", "lower", "equal")


def read(path: Path) -> list[RunData]:
    """The runs an import file describes; any bad row is a one-line error naming file and line."""
    try:
        text = path.read_text()
    except OSError as e:
        raise BenchError(f"{path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise BenchError(f"{path}: not a text (UTF-8) file") from None
    rows = csv.DictReader(io.StringIO(text))
    header = rows.fieldnames or []
    older = DIMENSIONS not in header
    expected = [c for c in COLUMNS if c != DIMENSIONS] if older else list(COLUMNS)
    rename = legacy_names.renamer()
    missing = [c for c in expected if c not in header]
    if missing:
        raise BenchError(f"{path}: missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise BenchError(f"{path}: unknown column(s) {', '.join(unknown)} (expected {','.join(COLUMNS)})")
    runs: dict[tuple[str, str], RunData] = {}
    values: dict[tuple[str, str], dict[SeriesKey, list[float]]] = {}
    kinds: dict[tuple[str, ...], tuple[str, str]] = {}
    for line, row in enumerate(rows, 2):
        where = f"{path}:{line}"
        if None in row or any(row[c] is None for c in expected):
            raise BenchError(f"{where}: expected {len(expected)} fields")
        cells = {c: row[c].strip() for c in expected}
        empty = [c for c in expected if not cells[c] and c != DIMENSIONS]
        if empty:
            raise BenchError(f"{where}: empty {empty[0]}")
        if cells["better"] not in BETTER:
            raise BenchError(f"{where}: better is {cells['better']!r}, not higher, lower or equal")
        try:
            started_at = ingest.utc_iso(cells["started_at"])
        except ValueError:
            raise BenchError(f"{where}: started_at {cells['started_at']!r} is not an ISO 8601 time") from None
        run_key = (cells["host"], cells["run_id"])
        run = runs.setdefault(run_key, RunData(HostFacts(cells["host"], cells["host"]), cells["run_id"], started_at,
                                               [], "import"))
        if run.started_at != started_at:
            raise BenchError(f"{where}: run {cells['run_id']} of {cells['host']} started at {run.started_at} "
                             f"on an earlier line")
        if older:
            cells["metric"], named = rename(cells["workload"], cells["platform"], cells["metric"])
            cells[DIMENSIONS] = dimensions_text(named)
        try:
            cells[DIMENSIONS] = dimensions_text(parse_dimensions(cells[DIMENSIONS]))
        except ValueError as e:
            raise BenchError(f"{where}: dimensions: {e}") from None
        series = SeriesKey.read(cells)
        if series.better == "equal":
            run.equal_values.add(EqualValue(series, cells["value"]))
            continue
        value = _number(cells["value"], where)
        if kinds.setdefault(series.identity, (series.unit, series.better)) != (series.unit, series.better):
            raise BenchError(f"{where}: {' '.join(filter(None, series.identity))} has another unit or better than on "
                             "an earlier line")
        values.setdefault(run_key, {}).setdefault(series, []).append(value)
    for run_key, run in runs.items():
        run.points = [point(series, vals) for series, vals in values.get(run_key, {}).items()]
    return list(runs.values())


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BenchError(f"{where}: value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise BenchError(f"{where}: value {text!r} is not a finite number")
    return value


def point(series: SeriesKey, values: list[float]) -> PointData:
    """A point from trial values alone: their median and its bootstrap CI, as a run's summary has."""
    ci = stats.median_ci(values)
    return PointData(series, stats.median(values), ci.low, ci.high, tuple(values))


def resolve_hosts(store: Store, conn: sa.Connection, runs: list[RunData]) -> None:
    """An import file names a host by its fingerprint (as export writes it) or by a name. A name
    matches the host imported under it, else the one host that has it as its hostname, else it
    is a new host."""
    hosts = schema.hosts
    known = list(conn.execute(sa.select(hosts.c.fingerprint, hosts.c.name)))
    fingerprints = {row.fingerprint for row in known}
    for run in runs:
        given = run.host.name
        if given in fingerprints or ingest.FINGERPRINT_RE.match(given):
            fingerprint = given
        elif ingest.IMPORTED + given in fingerprints:
            fingerprint = ingest.IMPORTED + given
        else:
            named = [row.fingerprint for row in known if row.name == given]
            fingerprint = named[0] if len(named) == 1 else ingest.IMPORTED + given
        name = next((row.name for row in known if row.fingerprint == fingerprint), given)
        run.host = HostFacts(fingerprint, name)


def import_runs(store: Store, runs: list[RunData]) -> list[tuple[RunData, bool]]:
    """Runs read from an import file, stored in one transaction; (run, whether it was new)."""
    with store.transaction() as conn:
        resolve_hosts(store, conn, runs)
        return [(run, ingest.add_one(store, conn, run)) for run in runs]


def rows(store: Store, host: str | None = None) -> Iterator[list[str]]:
    """Every stored trial value, and every value to reproduce, as an export row, in host, run
    and series order."""
    h, r, s, p, e = schema.hosts, schema.runs, schema.series, schema.points, schema.equal_values
    run_columns = (h.c.fingerprint, r.c.run_id, r.c.started_at)
    quantities = (sa.select(*run_columns, s.c.workload, s.c.platform, s.c.accel, s.c.metric, s.c.dimensions, s.c.unit,
                            s.c.better, p.c.trial_values)
                  .select_from(p.join(r, p.c.run_id == r.c.id).join(h, r.c.host_id == h.c.id)
                               .join(s, p.c.series_id == s.c.id)))
    reproduced = (sa.select(*run_columns, e.c.workload, e.c.platform, e.c.accel, e.c.metric, e.c.dimensions, e.c.unit,
                            e.c.value)
                  .select_from(e.join(r, e.c.run_id == r.c.id).join(h, r.c.host_id == h.c.id)))
    if host is not None:
        quantities, reproduced = quantities.where(h.c.fingerprint == host), reproduced.where(h.c.fingerprint == host)
    with store.reading() as conn:
        numeric = [[row.fingerprint, *row[1:10], repr(float(value))]
                   for row in conn.execute(quantities) for value in json.loads(row.trial_values)]
        texts = [[row.fingerprint, *row[1:9], "equal", row.value] for row in conn.execute(reproduced)]
    # Sorted here, not by the database: SQLite and PostgreSQL (whose order follows its locale)
    # then export the same history as the same bytes. Trial values keep their order.
    def order(row: list[str]) -> tuple[str, ...]:
        return row[0], row[2], row[1], *row[3:8], row[10] if row[9] == "equal" else ""

    for row in sorted(numeric + texts, key=order):
        yield [row[0].removeprefix(ingest.IMPORTED), *row[1:]]


def write(store: Store, out: io.TextIOBase, host: str | None = None) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows(store, host):
        writer.writerow(row)
        count += 1
    return count
