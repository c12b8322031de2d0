"""Where the history lives: an SQLite file (one machine) or a PostgreSQL database (a fleet).

`--db` / $BENCH_HISTORY takes a path (SQLite), `sqlite:///PATH` or `postgresql://USER@HOST/DB`
(the password from the URL, $PGPASSWORD or a service file, as libpq does). Every write is one
transaction; a database that cannot be used is one line naming it, with its password never shown.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bench.definitions import legacy_names
from bench.errors import BenchError
from bench.history import migrate, schema
from bench.rundir.results import reports_root

ENV = "BENCH_HISTORY"
DEFAULT_FILE = "history.sqlite"
URL_FORMS = "a file path, sqlite:///PATH or postgresql://USER@HOST/DATABASE"
SCHEMA_LOCK = 0x766D6374  # PostgreSQL advisory lock: one process creates the tables, the others wait
CONNECT_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_S = 60  # how long a writer waits for another one to finish


def default_location() -> str:
    return os.environ.get(ENV) or str(reports_root() / DEFAULT_FILE)


@dataclass
class Store:
    engine: sa.Engine
    shown: str  # the URL as it may be printed: the password masked

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def insert(self, table: sa.Table) -> sa.Insert:
        """INSERT with ON CONFLICT support, in this database's dialect."""
        return (sqlite.insert if self.is_sqlite else postgresql.insert)(table)  # type: ignore[return-value]

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """All or nothing: an error or a kill midway leaves the store as it was."""
        with errors(self), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A read-only transaction: it never takes SQLite's write lock, so it neither waits for
        a writer nor makes one wait longer than its own reads."""
        with errors(self), self.engine.connect() as conn:
            yield conn.execution_options(sqlite_begin="DEFERRED")

    def close(self) -> None:
        self.engine.dispose()


def secrets_of(url: sa.URL | None) -> list[str]:
    """Every password this process may use for the database: never to be printed."""
    found = [os.environ.get("PGPASSWORD", "")]
    if url is not None and url.password:
        found.append(str(url.password))
    return [s for s in found if s]


def redact(text: str, url: sa.URL | None) -> str:
    for secret in secrets_of(url):
        text = text.replace(secret, "***")
    return text


@contextmanager
def errors(store: Store) -> Iterator[None]:
    """Database errors as one line naming the store, without its password."""
    try:
        yield
    except sa.exc.SQLAlchemyError as e:
        cause = getattr(e, "orig", None) or e
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise BenchError(f"history {store.shown}: {redact(first, store.engine.url)}") from None


def parse(location: str) -> sa.URL:
    """A path or a database URL as an SQLAlchemy URL; a bad one is an error that does not echo
    it (it may hold a password)."""
    if "://" not in location:
        return sa.URL.create("sqlite", database=str(Path(location).expanduser().resolve()))
    try:
        url = sa.make_url(location)
    except (sa.exc.ArgumentError, ValueError):
        scheme = location.split("://", 1)[0]
        raise BenchError(f"--db: a malformed {scheme} URL (expected {URL_FORMS})") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BenchError(f"--db: an SQLite URL needs a file (sqlite:///PATH), not {url.render_as_string()}")
        return url.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        if not url.database:
            raise BenchError(f"--db: {url.render_as_string(hide_password=True)} names no database")
        return url.set(drivername="postgresql+psycopg")
    raise BenchError(f"--db: {backend!r} databases are not supported (expected {URL_FORMS})")


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    # pysqlite opens transactions lazily and on its own; take that over so that a write
    # transaction holds SQLite's write lock from its first statement (BEGIN IMMEDIATE): two
    # writers then queue instead of failing halfway with "database is locked". Reads say so
    # (Store.reading) and begin DEFERRED.
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")

    return engine


def open_store(location: str | None = None, create: bool = False) -> Store:
    """The history at `location` (default: $BENCH_HISTORY or reports/history.sqlite).
    `create`: make it when it does not exist yet (commands that add); else it must exist."""
    url = parse(location or default_location())
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.exists() and not create:
            raise BenchError(f"no history at {path} (`bench history add RUN_DIR` starts one)")
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise BenchError(f"history {path}: {e.strerror}") from None
        store = Store(_sqlite_engine(url), str(path))
    else:
        store = Store(sa.create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
                                       pool_pre_ping=False), shown)
    try:
        _check_schema(store, create)
    except BaseException:
        store.close()
        raise
    return store


def _check_schema(store: Store, create: bool) -> None:
    with store.reading() as conn:
        version = _version(store, conn)
    if version == schema.SCHEMA_VERSION:
        return
    if version is None and not create:
        raise BenchError(f"history {store.shown}: empty (`bench history add RUN_DIR` starts one)")
    with store.transaction() as conn:
        if not store.is_sqlite:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        # Again: another process may have done it while this one waited for the lock.
        version = _version(store, conn)
        if version != schema.SCHEMA_VERSION:
            if version is not None and version < schema.DIMENSIONS_SINCE:
                migrate.to_dimensions(conn, store.is_sqlite, legacy_names.renamer())
            if version is not None and version < schema.DISTURBED_SINCE:
                migrate.add_disturbed(conn)
            schema.metadata.create_all(conn)  # the tables a store lacks
            conn.execute(sa.insert(schema.schema_version).values(version=schema.SCHEMA_VERSION))


def _version(store: Store, conn: sa.Connection) -> int | None:
    """The store's schema version; None when it has no tables yet. Refuses what it cannot read."""
    # One look at the catalogue: a store being made by another process appears all at once
    # (its tables commit together), so asking twice could see it half made.
    tables = sa.inspect(conn).get_table_names()
    if "schema_version" not in tables:
        if tables:
            raise BenchError(f"history {store.shown}: holds other tables, not a vmct-bench history")
        return None
    version = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    if version is None or version > schema.SCHEMA_VERSION:
        raise BenchError(f"history {store.shown}: written by a newer vmct-bench (schema {version}; "
                         f"this one reads {schema.SCHEMA_VERSION}): upgrade vmct-bench to use it")
    return int(version)
