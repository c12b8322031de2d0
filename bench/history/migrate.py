"""An older store brought to the current schema, in the transaction that opens it. Schema 3 →
4: points gain `disturbed` (0 for every run stored before it was measured). Schema 1 or 2 → 3: series and
equal_values gain `dimensions`, and each older series' name that held a client's value or a
stress (get_ops_s_c10, score__fork) is split into the metric and its dimensions, a server's with
the network path its platform's client took, so the series goes on where new runs add to it. Tables that change their keys are rebuilt: their rows are read,
the tables dropped and made again, the rows written back under the same ids.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from bench.history import schema
from bench.model.sample import dimensions_text

Renamer = Callable[[str, str, str], tuple[str, dict[str, str]]]  # (workload, platform, metric)


def to_dimensions(conn: sa.Connection, is_sqlite: bool, rename: Renamer) -> int:
    """Rebuild series, points and equal_values with dimensions; the number of series renamed."""
    tables = sa.inspect(conn).get_table_names()
    if "series" not in tables:
        return 0
    if "dimensions" in {c["name"] for c in sa.inspect(conn).get_columns("series")}:
        return 0
    old = sa.MetaData()
    series = sa.Table("series", old, autoload_with=conn)
    points = sa.Table("points", old, autoload_with=conn)
    equal = sa.Table("equal_values", old, autoload_with=conn) if "equal_values" in tables else None
    series_rows = [dict(r._mapping) for r in conn.execute(sa.select(series))]
    point_rows = [dict(r._mapping) for r in conn.execute(sa.select(points))]
    equal_rows = [dict(r._mapping) for r in conn.execute(sa.select(equal))] if equal is not None else []
    for table in (points, *([equal] if equal is not None else []), series):
        table.drop(conn)
    schema.metadata.create_all(conn, tables=[schema.series, schema.points, schema.equal_values])

    taken: set[tuple[str, ...]] = set()
    renamed = 0
    for row in series_rows:
        metric, dimensions = rename(row["workload"], row["platform"], row["metric"])
        key = (row["workload"], row["platform"], row["accel"], metric, dimensions_text(dimensions))
        if key in taken:  # two old names for one series: keep the later one's name as it was
            metric, dimensions = row["metric"], {}
            key = (*key[:3], metric, "")
        taken.add(key)
        renamed += metric != row["metric"]
        row.update(metric=metric, dimensions=dimensions_text(dimensions))
    for row in equal_rows:
        metric, dimensions = rename(row["workload"], row["platform"], row["metric"])
        row.update(metric=metric, dimensions=dimensions_text(dimensions))
    for table, rows in ((schema.series, series_rows), (schema.points, point_rows), (schema.equal_values, equal_rows)):
        if rows:
            conn.execute(sa.insert(table), rows)
    if not is_sqlite and series_rows:  # the ids were given: the sequence goes on after them
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('series', 'id'), (SELECT MAX(id) FROM series))"))
    return renamed


def add_disturbed(conn: sa.Connection) -> None:
    """points.disturbed, 0 for the points already stored."""
    if "points" in sa.inspect(conn).get_table_names() and \
            "disturbed" not in {c["name"] for c in sa.inspect(conn).get_columns("points")}:
        conn.execute(sa.text("ALTER TABLE points ADD COLUMN disturbed INTEGER NOT NULL DEFAULT 0"))
