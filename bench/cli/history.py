"""`bench history ...`: the command line of the results history."""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bench.cli import argtypes
from bench.errors import BenchError
from bench.progress import Progress

if TYPE_CHECKING:  # the database layer loads only for the history commands themselves
    from bench.history.store import Store

Handler = Callable[[argparse.Namespace, Progress], int]
T = TypeVar("T")


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    history = commands.add_parser(
        "history", help="a results history across runs and hosts: change points, and a CI gate on them")
    sub = history.add_subparsers(dest="history_command", required=True, parser_class=type(history))

    def with_db(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--db", metavar="URL", help="the history: a file path, sqlite:///PATH or "
                            "postgresql://USER@HOST/DB (default: $BENCH_HISTORY or reports/history.sqlite)")
        return parser

    add = with_db(sub.add_parser("add", help="add finished run directories (a run already there is skipped)"))
    add.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    add.add_argument("--label", type=argtypes.label, action="append", default=[], metavar="KEY=VALUE",
                     help="a label of these runs, e.g. commit=abc123 (repeatable)")

    imported = with_db(sub.add_parser("import", help="add trial values from a CSV file (the export format)"))
    imported.add_argument("file", type=Path, metavar="FILE.csv")

    export = with_db(sub.add_parser("export", help="write the history: CSV, one row per trial value; or per host "
                                    "the data file of github-action-benchmark's chart page"))
    export.add_argument("-o", "--output", type=Path, metavar="PATH",
                        help="csv: a file (default: stdout); github-action-benchmark: a directory, "
                             "one HOST/data.js in it (default: reports/history-benchmark-data)")
    export.add_argument("--host", help="only this host (name or fingerprint)")
    export.add_argument("--format", choices=("csv", "github-action-benchmark"), default="csv")

    feed = with_db(sub.add_parser("feed", help="the change points as an Atom feed, newest first"))
    feed.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: stdout")
    feed.add_argument("--host", help="only this host (name or fingerprint)")

    detect = with_db(sub.add_parser("detect", help="find where each host × series changed level"))
    detect.add_argument("--host", help="only this host (name or fingerprint)")
    detect.add_argument("--since", type=argtypes.moment, metavar="DATE",
                        help="only changes whose first run after started then or later")
    shape = detect.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="machine-readable output")
    shape.add_argument("--markdown", action="store_true", help="a markdown table (for a CI job summary)")
    detect.add_argument("--exit-code", action="store_true",
                        help="exit 1 when an unacknowledged regression is among the changes shown")

    report = with_db(sub.add_parser("report", help="the trend report: every series over time per host, its "
                                    "levels and change points, the overhead over native, one HTML file"))
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: reports/trend.html")
    report.add_argument("--host", help="only this host (name or fingerprint)")
    report.add_argument("--since", type=argtypes.moment, metavar="DATE", help="only runs started then or later")

    ack = with_db(sub.add_parser("ack", help="mark a change point as known and expected"))
    ack.add_argument("change_id", metavar="ID", help="as `bench history detect` shows it (cp-...)")
    ack.add_argument("--reason", required=True)

    exclude = with_db(sub.add_parser("exclude", help="leave a bad run out of the analysis"))
    exclude.add_argument("run_id", metavar="RUN", help="the run's id (its directory's name)")
    exclude.add_argument("--reason", required=True)
    exclude.add_argument("--host", help="the run's host, when several hosts have a run of that id")

    check = with_db(sub.add_parser("check", help="the CI gate: add RUN_DIR and judge it against each series' "
                                   "stable segment on its host; exit 1 on a regression"))
    check.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    argtypes.add_gate_arguments(check)
    check.add_argument("--label", type=argtypes.label, action="append", default=[], metavar="KEY=VALUE",
                       help="a label of this run, e.g. commit=abc123 (repeatable)")


def cmd_add(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import ingest, store

    runs = [ingest.read_run_dir(path, dict(args.label)) for path in args.run_dirs]  # all checked first
    history = store.open_store(args.db, create=True)
    try:
        with progress.step(f"adding {len(runs)} run(s) to {history.shown}"):
            outcome = ingest.add(history, runs)
    finally:
        history.close()
    for run, added in outcome:
        if added:
            print(f"added {run.run_id} ({run.host.name}, {len(run.points)} series)")
        else:
            print(f"already in the history: {run.run_id} ({run.host.name})")
    print(f"history: {history.shown}")
    return 0


def cmd_import(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import csvio, store

    runs = csvio.read(args.file)  # a bad file is named before any store is opened or created
    history = store.open_store(args.db, create=True)
    try:
        outcome = csvio.import_runs(history, runs)
    finally:
        history.close()
    added = sum(new for _, new in outcome)
    print(f"imported {added} run(s), {len(outcome) - added} already in the history: {history.shown}")
    return 0


def cmd_export(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import csvio, store
    from bench.host.files import write_text

    if args.format == "github-action-benchmark":
        return _export_benchmark_data(args, progress)
    history = store.open_store(args.db)
    try:
        table = io.StringIO()
        count = csvio.write(history, table, _one_host(history, args.host))
    finally:
        history.close()
    if args.output is None:
        sys.stdout.write(table.getvalue())
        return 0
    write_text(args.output, table.getvalue())
    print(f"export: {args.output} ({count} values)")
    return 0


def _export_benchmark_data(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import gab
    from bench.host.files import write_text
    from bench.rundir import results

    written = _read(args, progress, "reading the history", lambda history: gab.files(history, args.host))
    if not written:
        raise BenchError("history export: no runs to export" + (f" for host {args.host!r}" if args.host else ""))
    root = args.output or results.reports_root() / "history-benchmark-data"
    for name, text in written.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_text(root / name, text)
    print(f"export: {len(written)} host(s) into {root}: " + ", ".join(sorted(written)))
    return 0


def cmd_feed(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import detect, feed
    from bench.host.files import write_text

    found = _read(args, progress, "looking for change points", lambda history: detect.detect(history, args.host))
    text = feed.atom(found)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text(args.output, text)
        print(f"feed: {args.output} ({len(found)} change point(s))")
    return 0


def _one_host(history: Store, host: str | None) -> str | None:
    """The fingerprint `--host` names; it must name exactly one host."""
    from bench.history import detect

    if host is None:
        return None
    with history.reading() as conn:
        found = detect.host_filter(conn, host)
    if len(found) > 1:
        raise BenchError(f"--host: {host!r} names {len(found)} hosts; give a fingerprint")
    return found[0]


def _read(args: argparse.Namespace, progress: Progress, step: str, read: Callable[[Store], T]) -> T:
    """Open the history `--db` names, read it under a progress step, close it."""
    from bench.history import store

    history = store.open_store(args.db)
    try:
        with progress.step(step):
            return read(history)
    finally:
        history.close()


def cmd_detect(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import detect, render

    found = _read(args, progress, "looking for change points",
                  lambda history: detect.detect(history, args.host, args.since))
    if args.json:
        print(json.dumps([c.to_json() for c in found], indent=2))
    elif args.markdown:
        print(render.markdown(found))
    else:
        print(render.text(found))
    unacked = [c for c in found if c.kind == detect.REGRESSION and c.acked is None]
    return 1 if args.exit_code and unacked else 0


def cmd_report(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import trend, trend_html
    from bench.host.files import write_text
    from bench.rundir import results

    def build(history: Store) -> trend.Trend:
        built = trend.build(history, args.host, args.since)
        if not built.panels:
            raise BenchError(f"history report: no runs in {history.shown}"
                             + (f" for host {args.host!r}" if args.host else "")
                             + (f" since {args.since}" if args.since else ""))
        return built

    output = args.output or results.reports_root() / "trend.html"
    built = _read(args, progress, "reading the history and its change points", build)
    with progress.step(f"rendering {output}"):
        write_text(output, trend_html.render_html(built, f"Isolation cost over time: {', '.join(built.hosts)}"))
    print(f"trend report: {output}")
    return 0


def cmd_ack(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import detect, schema, store

    history = store.open_store(args.db)
    try:
        known = {c.id: c for c in detect.detect(history)}
        change = known.get(args.change_id)
        if change is None:
            raise BenchError(f"ack: no change point {args.change_id!r} in the history (`bench history detect` lists them)")
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with history.transaction() as conn:
            conn.execute(history.insert(schema.acks).values(change_id=change.id, reason=args.reason, acked_at=when)
                         .on_conflict_do_update(index_elements=["change_id"], set_={"reason": args.reason,
                                                                                    "acked_at": when}))
    finally:
        history.close()
    print(f"acknowledged {change.id}: {change.series} on {change.host}, {change.kind} {change.change:+.1%} "
          f"from {change.first_after}")
    return 0


def cmd_exclude(args: argparse.Namespace, progress: Progress) -> int:
    import sqlalchemy as sa

    from bench.history import detect, schema, store

    history = store.open_store(args.db)
    runs = schema.runs
    try:
        with history.transaction() as conn:
            query = sa.select(runs.c.id, runs.c.host_id).where(runs.c.run_id == args.run_id)
            if args.host is not None:
                hosts = detect.host_filter(conn, args.host)
                query = query.join(schema.hosts, runs.c.host_id == schema.hosts.c.id).where(
                    schema.hosts.c.fingerprint.in_(hosts))
            found = list(conn.execute(query))
            if not found:
                raise BenchError(f"exclude: no run {args.run_id!r} in the history")
            if len(found) > 1:
                raise BenchError(f"exclude: {len(found)} hosts have a run {args.run_id!r}; name one with --host")
            conn.execute(sa.update(runs).where(runs.c.id == found[0].id).values(excluded=args.reason))
    finally:
        history.close()
    print(f"excluded {args.run_id} from the analysis: {args.reason}")
    return 0


def cmd_check(args: argparse.Namespace, progress: Progress) -> int:
    from bench.history import gate, ingest, store

    run = ingest.read_run_dir(args.run_dir, dict(args.label))
    history = store.open_store(args.db, create=True)
    try:
        with progress.step(f"judging {run.run_id} against its history in {history.shown}"):
            outcome = gate.check(history, run, args.threshold, args.alpha)
    finally:
        history.close()
    return argtypes.print_gate(outcome, args)


HANDLERS: dict[str, Handler] = {
    "history add": cmd_add,
    "history import": cmd_import,
    "history export": cmd_export,
    "history detect": cmd_detect,
    "history report": cmd_report,
    "history feed": cmd_feed,
    "history ack": cmd_ack,
    "history exclude": cmd_exclude,
    "history check": cmd_check,
}
