"""The history in real stores: real run directories into SQLite and into a real PostgreSQL give
the same history; concurrent adds lose and duplicate nothing; a SIGKILL in the middle of an add
leaves no partial run; a password is nowhere to be found afterwards."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.model.series import SeriesKey
from tests.postgres import USER, Server, pg_database, postgres  # noqa: F401  (fixtures)
from tests.realhost import bench
from tests.unit.test_history import make_runs



def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def popen_bench(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bench", "-q", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def test_real_runs_give_the_same_history_in_sqlite_and_postgresql(
        tmp_path: Path, real_runs: list[Path], postgres: Server, pg_database: str) -> None:
    stores = {"sqlite": str(tmp_path / "history.sqlite"), "postgresql": postgres.url(pg_database)}
    seen: dict[str, dict[str, str]] = {}
    for kind, url in stores.items():
        added = bench("history", "add", *map(str, real_runs), "--db", url, "--label", "branch=main")
        assert added.returncode == 0, added.stderr
        assert added.stdout.count("added ") == 2
        again = bench("history", "add", str(real_runs[0]), "--db", url)
        assert again.returncode == 0 and "already in the history" in again.stdout
        exported = bench("history", "export", "--db", url)
        detected = bench("history", "detect", "--db", url, "--json")
        checked = bench("history", "check", str(real_runs[1]), "--db", url, "--json")
        assert exported.returncode == detected.returncode == 0, exported.stderr + detected.stderr
        assert checked.returncode in (0, 1) and checked.stdout, checked.stderr
        seen[kind] = {"export": exported.stdout, "detect": detected.stdout, "check": checked.stdout}
    assert seen["sqlite"] == seen["postgresql"]
    lines = seen["sqlite"]["export"].splitlines()
    assert len(lines) > 1 and {line.split(",")[1] for line in lines[1:]} == {p.name for p in real_runs}
    verdicts = json.loads(seen["sqlite"]["check"])["changes"]
    boot = next(v for v in verdicts if v["series"] == "boot boot_s on docker")
    assert boot["against"] == f"1 run(s) since {real_runs[0].name}"
    # Judged against the first run: exactly the series it measured too (a boot phase can land
    # after READY in one run and not in another, so a run may have a series the other lacks).
    rows = list(csv.DictReader(io.StringIO(seen["sqlite"]["export"])))
    in_first = {SeriesKey.read(r).name for r in rows if r["run_id"] == real_runs[0].name}
    assert {v["series"] for v in verdicts if v["status"] != "no history"} == in_first & {v["series"] for v in verdicts}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_four_processes_adding_at_once_lose_and_duplicate_nothing(
        tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgresql":
        server: Server = request.getfixturevalue("postgres")
        url = server.url(request.getfixturevalue("pg_database"))
    else:
        url = str(tmp_path / "history.sqlite")
    own = [make_runs(tmp_path / f"p{i}", 1, prefix=f"p{i}-", seed=i)[0] for i in range(4)]
    (shared,) = make_runs(tmp_path / "shared", 1, prefix="shared-")
    # Each process adds its own run and the shared one, into a store none of them has made yet.
    procs = [popen_bench("history", "add", run, shared, "--db", url) for run in own]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://") if kind == "postgresql"
                              else f"sqlite:///{url}")
    try:
        with engine.connect() as conn:
            def count(sql: str) -> int:
                return int(conn.execute(sa.text(sql)).scalar_one())
            assert count("SELECT count(*) FROM runs") == 5
            assert count("SELECT count(DISTINCT run_id) FROM runs") == 5
            assert count("SELECT count(*) FROM hosts") == 1
            series = count("SELECT count(*) FROM series")
            assert series == count("SELECT count(DISTINCT workload || platform || accel || metric) FROM series") > 0
            assert count("SELECT count(*) FROM points") == 5 * series
            assert count("SELECT count(*) FROM schema_version") == 1
    finally:
        engine.dispose()


def test_sigkill_during_an_add_to_postgresql_leaves_no_partial_run(
        tmp_path: Path, postgres: Server, pg_database: str) -> None:
    url = postgres.url(pg_database)
    first, second = make_runs(tmp_path / "runs", 2)
    assert bench("history", "add", str(first), "--db", url).returncode == 0
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as holder:
            # Hold the points table, so the add blocks inside its transaction: after its host,
            # run and series rows, at its first point.
            holder.execute(sa.text("LOCK TABLE points IN ACCESS EXCLUSIVE MODE"))
            proc = popen_bench("history", "add", second, "--db", url)

            def blocked_backends() -> list[int]:
                with engine.connect() as conn:
                    return list(conn.execute(sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'INSERT INTO points%'")).scalars())

            wait_until(blocked_backends, "the add to wait for the points table inside its transaction")
            (backend,) = blocked_backends()
            proc.kill()
            proc.wait(timeout=30)
            holder.rollback()  # the lock goes; the orphaned backend finds its client gone

        def backend_gone() -> bool:
            with engine.connect() as conn:
                return not conn.execute(sa.text("SELECT 1 FROM pg_stat_activity WHERE pid = :p"), {"p": backend}).first()

        wait_until(backend_gone, "the killed add's backend to end")
        with engine.connect() as conn:
            assert list(conn.execute(sa.text("SELECT run_id FROM runs")).scalars()) == [first.name]
            per_run = conn.execute(sa.text("SELECT count(*) FROM points GROUP BY run_id")).scalars().all()
            assert len(per_run) == 1
    finally:
        engine.dispose()
    again = bench("history", "add", str(second), "--db", url)
    assert again.returncode == 0 and f"added {second.name}" in again.stdout


def test_sigkill_during_an_add_to_sqlite_leaves_no_partial_run(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    first, second = make_runs(tmp_path / "runs", 2)
    assert bench("history", "add", str(first), "--db", str(db)).returncode == 0
    reader = sqlite3.connect(db, isolation_level=None)
    try:
        # An open read transaction: the add writes all its rows, then waits at COMMIT for this
        # reader, its journal on disk and the database file untouched.
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM runs").fetchone()
        proc = popen_bench("history", "add", second, "--db", db)
        journal = tmp_path / "history.sqlite-journal"
        wait_until(journal.exists, "the add to write inside its transaction")
        assert proc.poll() is None
        proc.kill()
        proc.wait(timeout=30)
        reader.execute("ROLLBACK")
    finally:
        reader.close()
    assert journal.exists()  # a hot journal: the next opener rolls the add back
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert [r for (r,) in conn.execute("SELECT run_id FROM runs")] == [first.name]
        assert conn.execute("SELECT count(DISTINCT run_id) FROM points").fetchone() == (1,)
    again = bench("history", "add", str(second), "--db", str(db))
    assert again.returncode == 0 and f"added {second.name}" in again.stdout


def test_a_database_password_is_never_shown_or_stored(tmp_path: Path, real_runs: list[Path], postgres: Server,
                                                       pg_database: str) -> None:
    secret = postgres.user_password
    with_password, without = postgres.url(pg_database), postgres.url(pg_database, password="")
    outputs = [
        bench("history", "add", *map(str, real_runs), "--db", with_password),
        bench("history", "detect", "--db", with_password, "--markdown"),
        bench("history", "check", str(real_runs[1]), "--db", with_password, "--markdown"),
        bench("history", "export", "--db", with_password, "-o", str(tmp_path / "export.csv")),
        # The password from the environment, as libpq takes it.
        bench("history", "detect", "--db", without, env={"PGPASSWORD": secret}),
        # A wrong password and a wrong database: errors that name the store.
        bench("history", "detect", "--db", postgres.url(pg_database, password=secret + "x")),
        bench("history", "detect", "--db", postgres.url("no_such_db")),
    ]
    assert [p.returncode for p in outputs[:5]] in ([0, 0, 0, 0, 0], [0, 0, 1, 0, 0])
    assert outputs[5].returncode == outputs[6].returncode == 2
    wrong = outputs[5].stderr
    assert "password authentication failed" in wrong and len(wrong.splitlines()) == 1
    assert f"{USER}:***@" in wrong  # the store is named, its password masked
    for proc in outputs:
        assert secret not in proc.stdout + proc.stderr
    written = [tmp_path / "export.csv", postgres.log] + [f for run in real_runs for f in run.rglob("*") if f.is_file()]
    for file in written:
        assert secret.encode() not in file.read_bytes(), file
    pg_dump = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))[-1]
    dump = subprocess.run([str(pg_dump), "--dbname", with_password], capture_output=True, text=True)
    assert dump.returncode == 0 and "CREATE TABLE public.runs" in dump.stdout
    assert secret not in dump.stdout


def test_the_trend_report_of_real_runs_and_an_imported_host(tmp_path: Path, real_runs: list[Path]) -> None:
    """This machine's two real runs and a second, synthetic host imported from CSV render side by
    side, with the portability table; in headless Chromium with the network off nothing is missing."""
    from bench.rundir.runs import load
    from tests.browser import open_page
    from tests.unit.test_trend import PLATFORMS, fleet

    (digest,) = {r.score for r in load(real_runs[0]).counted if r.workload == "hello"}
    # lab-a's images came from the same inputs: its hello printed this machine's digest.
    fleet(tmp_path / "fleet.sqlite", digests={("lab-a", p): digest for p in PLATFORMS}).close()
    csv = tmp_path / "lab-a.csv"
    assert bench("history", "export", "--db", str(tmp_path / "fleet.sqlite"), "--host", "lab-a",
                 "-o", str(csv)).returncode == 0
    db = str(tmp_path / "history.sqlite")
    for args in (("add", *map(str, real_runs)), ("import", str(csv))):
        proc = bench("history", *args, "--db", db)
        assert proc.returncode == 0, proc.stderr
    out = tmp_path / "trend.html"
    proc = bench("history", "report", "--db", db, "-o", str(out))
    assert proc.returncode == 0 and proc.stdout.strip() == f"trend report: {out}", proc.stderr
    html = out.read_text()
    here = json.loads((real_runs[0] / "run.json").read_text())["host"]["hostname"]
    # The export names lab-a by its fingerprint, and the import keeps that name.
    imported = "0000000000000000"
    # The boot time: this host's two runs and lab-a's sixty, side by side.
    assert f'aria-label="boot: boot_s on {here}"' in html and f'aria-label="boot: boot_s on {imported}"' in html
    portability = html[html.index('id="portability"'):html.index('id="trends"')]
    assert f"<td>{here}</td><td>2</td>" in portability and f"<td>{imported}</td><td>60</td>" in portability
    assert f"<td>{digest[:12]}…</td>" in portability and f"<td>{digest[:12]}… (run run050)</td>" in portability
    assert f"Every platform on all 2 hosts printed the same hello digest ({digest[:12]}…)" in portability
    seen = open_page(out, ("changes", "portability", "trends"), tmp_path / "trend.png")
    assert all(seen.visible.values()) and seen.requests == [] and seen.console_errors == [] and seen.page_errors == []


def test_the_fleet_workflow_parses_and_its_database_steps_run_on_postgresql(
        tmp_path: Path, real_runs: list[Path], postgres: Server, pg_database: str) -> None:
    """examples/ci/fleet.yml: a matrix of one runner label per lab host; every step that reads or
    writes the history, run as written (sudo and the venv's path aside) against a real
    PostgreSQL: two hosts' gates, then the trend job."""
    import shutil

    import yaml

    workflow = yaml.safe_load((Path(__file__).parents[2] / "examples/ci/fleet.yml").read_text())
    measure, trend_job = workflow["jobs"]["measure"], workflow["jobs"]["trend"]
    hosts = measure["strategy"]["matrix"]["host"]
    assert len(hosts) >= 2 and measure["runs-on"] == ["self-hosted", "${{ matrix.host }}"]
    assert trend_job["needs"] == "measure" and measure["env"]["BENCH_HISTORY"] == trend_job["env"]["BENCH_HISTORY"]

    def history_steps(job: dict) -> list[str]:
        return [step["run"] for step in job["steps"] if "bench history" in step.get("run", "")]

    summary = tmp_path / "summary.md"
    env = {**os.environ, "BENCH_HISTORY": postgres.url(pg_database), "GITHUB_STEP_SUMMARY": str(summary)}

    def run_step(script: str, cwd: Path, host: str) -> None:
        script = (script.replace("sudo --preserve-env=BENCH_HISTORY ", "")
                  .replace(".venv/bin/bench", f"{sys.executable} -m bench")
                  .replace("${{ github.sha }}", "0123abc").replace("${{ matrix.host }}", host))
        proc = subprocess.run(["sh", "-ec", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, script + proc.stdout[-2000:] + proc.stderr[-2000:]

    for host, run in zip(hosts, real_runs):  # each run stands for one host's night
        work = tmp_path / host
        shutil.copytree(run, work / "runs" / run.name)
        for script in history_steps(measure):
            run_step(script, work, host)
    assert summary.read_text().count("bench history check") == 2
    for script in history_steps(trend_job):
        run_step(script, tmp_path, hosts[0])
    assert (tmp_path / "trend.html").read_text().count('class="trend"') > 0
    assert (tmp_path / "changes.atom").read_text().startswith("<?xml")
    assert list((tmp_path / "benchmark-data").glob("*/data.js"))


def test_a_schema_2_history_on_postgresql_is_renamed_as_on_sqlite(
        tmp_path: Path, postgres: Server, pg_database: str) -> None:
    """The history an older vmct-bench wrote (the unit tests' fixture), copied table by table into
    PostgreSQL as it stood, then opened by this one: both stores end up the same history."""
    from tests.unit.test_dimensions import PRE, a_run_after

    url = postgres.url(pg_database)
    old = sa.MetaData()
    source = sa.create_engine(f"sqlite:///{PRE / 'history-v2.sqlite'}")
    target = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        old.reflect(source)
        with source.connect() as src, target.begin() as dst:
            old.create_all(dst)
            for table in old.sorted_tables:
                rows = [dict(r._mapping) for r in src.execute(sa.select(table))]
                if rows:
                    dst.execute(sa.insert(table), rows)
            for name in ("hosts", "runs", "series"):  # the ids were copied: the next ones follow them
                dst.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT MAX(id) FROM {name}))"))
    finally:
        source.dispose()
        target.dispose()
    sqlite_copy = tmp_path / "history.sqlite"
    sqlite_copy.write_bytes((PRE / "history-v2.sqlite").read_bytes())
    after = a_run_after(tmp_path / "runs")
    exports = {}
    for kind, db in (("sqlite", str(sqlite_copy)), ("postgresql", url)):
        added = bench("history", "add", str(after), "--db", db)
        assert added.returncode == 0, added.stderr
        exported = bench("history", "export", "--db", db)
        assert exported.returncode == 0, exported.stderr
        exports[kind] = exported.stdout
    assert exports["sqlite"] == exports["postgresql"]
    rows = list(csv.DictReader(io.StringIO(exports["postgresql"])))
    redis = {r["run_id"] for r in rows if (r["workload"], r["platform"], r["metric"], r["dimensions"])
             == ("redis", "native", "get_ops_s", "clients=1;path=host")}
    assert redis == {PRE.joinpath("20261207-034640-1140").name, after.name}
    assert not any(r["metric"].endswith(("_c1", "_c10")) or "__" in r["metric"] for r in rows)
