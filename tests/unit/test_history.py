"""`bench history` on real SQLite files: add, detect, ack, exclude, check, import and export,
and every kind of bad input as one line and exit 2 with nothing written."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bench.cli.main import main
from bench.history import schema, trend
from bench.history.ingest import HostFacts, PointData, RunData, add
from bench.history.store import open_store
from bench.model.series import SeriesKey
from tests.unit.synthetic_runs import baseline_values, write_run

HOST = {"hostname": "lab1", "cpu_model": "Synthetic CPU", "logical_cpus": 8, "memory_bytes": 64 * 2**30,
        "cpu_flags": ["vmx"], "kernel": "6.1.0"}
CPU_DOCKER = ("cpu", "docker", "score")  # events/s: higher is better
BOOT_VM = ("boot", "vm", "boot_s")  # seconds: lower is better
DIGEST = "5f" * 32  # what `hello` prints: the sha256 of the image's package database


def make_runs(root: Path, count: int, changed: dict[tuple[str, str, str], tuple[int, float]] | None = None,
              host: dict | None = None, seed: int = 1, prefix: str = "r", day0: int = 1,
              qemu_from: int | None = None, hello: bool = False) -> list[Path]:
    """`count` runs a day apart, 2% noise; `changed` scales a series by a factor from run index on;
    `qemu_from`: runs from that index on report QEMU 8.0.0 instead of 7.2.0; `hello`: native and
    docker also ran hello, printing DIGEST."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        values = {}
        for key, trials in baseline_values().items():
            at, factor = (changed or {}).get(key, (count, 1.0))
            scale = (1 + 0.02 * rng.standard_normal()) * (factor if i >= at else 1.0)
            values[key] = [v * scale for v in trials]
        qemu = "8.0.0" if qemu_from is not None and i >= qemu_from else "7.2.0"
        paths.append(write_run(root, f"{prefix}{i:02d}", values, started_at=f"2026-10-{day0 + i:02d}T10:00:00+0000",
                               host=host or HOST, versions={"qemu": qemu},
                               digests={"native": DIGEST, "docker": DIGEST} if hello else None))
    return paths


def bench(*args: object, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["-q", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite"


def rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT * FROM {table}").fetchall()


def test_adding_a_run_twice_stores_it_once(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run,) = make_runs(tmp_path / "runs", 1)
    assert bench("history", "add", run, "--db", db, "--label", "commit=abc", capsys=capsys)[0] == 0
    code, out, _ = bench("history", "add", run, "--db", db, capsys=capsys)
    assert code == 0 and "already in the history: r00 (lab1)" in out
    assert len(rows(db, "runs")) == 1 and len(rows(db, "hosts")) == 1
    assert len(rows(db, "points")) == len(baseline_values())
    ((labels, qemu, started),) = sqlite3.connect(db).execute("SELECT labels, qemu, started_at FROM runs").fetchall()
    assert json.loads(labels) == {"commit": "abc"} and qemu == "7.2.0" and started == "2026-10-01T10:00:00Z"


def test_a_host_is_its_stable_facts_not_its_name(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = make_runs(tmp_path / "a", 1, host={**HOST, "hostname": "renamed", "bogomips": 1.0}, prefix="q")
    other = make_runs(tmp_path / "b", 1, host={**HOST, "logical_cpus": 16}, prefix="s")
    bench("history", "add", *make_runs(tmp_path / "c", 1), *same, *other, "--db", db, capsys=capsys)
    hosts = rows(db, "hosts")
    assert len(hosts) == 2  # the renamed host is the same machine; 16 CPUs is another
    assert len(rows(db, "runs")) == 3


def test_a_regression_is_found_with_what_changed_in_the_stack(tmp_path: Path, db: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    runs = make_runs(tmp_path / "runs", 20, {BOOT_VM: (12, 1.25), CPU_DOCKER: (12, 0.8)}, qemu_from=12)
    assert bench("history", "add", *runs, "--db", db, capsys=capsys)[0] == 0
    code, out, _ = bench("history", "detect", "--db", db, "--json", capsys=capsys)
    found = {c["series"]: c for c in json.loads(out)}
    assert code == 0 and set(found) == {"boot boot_s on vm-minimal/tcg", "cpu score on docker"}
    boot, cpu = found["boot boot_s on vm-minimal/tcg"], found["cpu score on docker"]
    # Longer boots (lower is better) and fewer events/s (higher is better) are both regressions.
    assert boot["kind"] == cpu["kind"] == "regression"
    assert boot["last_before"] == "r11" and boot["first_after"] == "r12"
    assert boot["range_first"] <= "r12" <= boot["range_last"]
    assert boot["change"] == pytest.approx(0.25, abs=0.03) and cpu["change"] == pytest.approx(-0.2, abs=0.03)
    assert boot["p"] <= 0.001 and boot["host"] == "lab1"
    assert boot["stack_changes"] == {"qemu": ["7.2.0", "8.0.0"]}
    code, out, _ = bench("history", "detect", "--db", db, "--exit-code", capsys=capsys)
    assert code == 1 and "2 regression(s), 2 not acknowledged" in out and "qemu: 7.2.0 → 8.0.0" in out


def test_higher_is_better_is_judged_the_right_way_round(tmp_path: Path, db: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    runs = make_runs(tmp_path / "runs", 20, {CPU_DOCKER: (10, 1.25), BOOT_VM: (10, 0.8)})
    bench("history", "add", *runs, "--db", db, capsys=capsys)
    code, out, _ = bench("history", "detect", "--db", db, "--json", "--exit-code", capsys=capsys)
    kinds = {c["series"]: c["kind"] for c in json.loads(out)}
    assert kinds == {"cpu score on docker": "improvement", "boot boot_s on vm-minimal/tcg": "improvement"}
    assert code == 0  # improvements fail nothing


def test_a_step_on_one_host_never_flags_another(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = {**HOST, "hostname": "lab2", "cpu_model": "Other CPU"}
    a = make_runs(tmp_path / "a", 20, {BOOT_VM: (10, 1.3)}, prefix="a")
    b = make_runs(tmp_path / "b", 20, host=other, prefix="b", seed=2)  # same days, same series, no step
    bench("history", "add", *a, *b, "--db", db, capsys=capsys)
    found = json.loads(bench("history", "detect", "--db", db, "--json", capsys=capsys)[1])
    assert [(c["host"], c["series"]) for c in found] == [("lab1", "boot boot_s on vm-minimal/tcg")]
    assert json.loads(bench("history", "detect", "--db", db, "--json", "--host", "lab2", capsys=capsys)[1]) == []
    code, _, err = bench("history", "detect", "--db", db, "--host", "lab9", capsys=capsys)
    assert code == 2 and err.strip() == "bench: error: --host: no host 'lab9' in the history"


def test_the_same_history_gives_the_same_output(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench("history", "add", *make_runs(tmp_path / "runs", 20, {BOOT_VM: (10, 1.3)}), "--db", db, capsys=capsys)
    outputs = {bench("history", "detect", "--db", db, "--json", capsys=capsys)[1] for _ in range(3)}
    assert len(outputs) == 1 and json.loads(outputs.pop())


def test_ack_silences_a_known_regression(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench("history", "add", *make_runs(tmp_path / "runs", 20, {BOOT_VM: (10, 1.3)}), "--db", db, capsys=capsys)
    (change,) = json.loads(bench("history", "detect", "--db", db, "--json", capsys=capsys)[1])
    code, out, _ = bench("history", "ack", change["id"], "--reason", "QEMU 8 boots slower", "--db", db, capsys=capsys)
    assert code == 0 and out.startswith(f"acknowledged {change['id']}: boot boot_s on vm-minimal/tcg")
    code, out, _ = bench("history", "detect", "--db", db, "--exit-code", capsys=capsys)
    assert code == 0 and "regression (acked)" in out and "QEMU 8 boots slower" in out
    code, _, err = bench("history", "ack", "cp-0000000000", "--reason", "x", "--db", db, capsys=capsys)
    assert code == 2 and "no change point 'cp-0000000000'" in err


def test_an_excluded_run_is_left_out_of_the_analysis(tmp_path: Path, db: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # The last six runs are slow: a change point. Excluded as bad runs, they leave a flat history.
    runs = make_runs(tmp_path / "runs", 20, {BOOT_VM: (14, 1.3)})
    bench("history", "add", *runs, "--db", db, capsys=capsys)
    assert len(json.loads(bench("history", "detect", "--db", db, "--json", capsys=capsys)[1])) == 1
    for run in runs[14:]:
        code, out, _ = bench("history", "exclude", run.name, "--reason", "noisy neighbour", "--db", db, capsys=capsys)
        assert code == 0 and out.startswith(f"excluded {run.name}")
    assert json.loads(bench("history", "detect", "--db", db, "--json", capsys=capsys)[1]) == []
    code, _, err = bench("history", "exclude", "nope", "--reason", "x", "--db", db, capsys=capsys)
    assert code == 2 and "no run 'nope'" in err


def test_check_judges_a_run_against_the_stable_segment(tmp_path: Path, db: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # The history moved to a new level at run 10: a run at that level is unchanged (against the
    # runs before the change it would be 30% slower); a run 30% slower than that level regresses.
    history = make_runs(tmp_path / "runs", 20, {BOOT_VM: (10, 1.3)})
    bench("history", "add", *history, "--db", db, capsys=capsys)
    (same,) = make_runs(tmp_path / "same", 1, {BOOT_VM: (0, 1.3)}, prefix="c", day0=25, seed=7)
    code, out, _ = bench("history", "check", same, "--db", db, "--json", capsys=capsys)
    judged = {v["series"]: v for v in json.loads(out)["changes"]}
    boot = judged["boot boot_s on vm-minimal/tcg"]
    assert code == 0 and boot["status"] == "unchanged"
    assert boot["against"] == "10 run(s) since r10" and boot["baseline_n"] == 10 * 5
    (slow,) = make_runs(tmp_path / "slow", 1, {BOOT_VM: (0, 1.3 * 1.3)}, prefix="d", day0=26, seed=8)
    code, out, _ = bench("history", "check", slow, "--db", db, "--markdown", capsys=capsys)
    assert code == 1
    assert out.startswith("### :x: bench history check: 1 regression(s): boot boot_s on vm-minimal/tcg +")
    row = next(line for line in out.splitlines() if "| boot | boot_s | vm-minimal/tcg |" in line)
    assert row.startswith("| **regression** |") and row.count("|") == 12
    assert len(rows(db, "runs")) == 22  # both checked runs were added


def test_the_markdown_of_a_first_check_is_its_verdict_and_one_line_of_counts(
        tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What a reviewer reads in the job summary: no table of "no history" rows, one line of
    counts, every series folded under it."""
    (run,) = make_runs(tmp_path / "runs", 1)
    code, out, _ = bench("history", "check", run, "--db", db, "--markdown", capsys=capsys)
    lines = out.splitlines()
    folded = lines.index(next(line for line in lines if line.startswith("<details>")))
    series = out.count("| no history |")
    assert code == 0 and lines[0].startswith("### :white_check_mark: bench history check: no regression")
    assert series > 10 and f"{series} series: {series} no history." in lines[:folded]
    assert not [line for line in lines[:folded] if line.startswith("|")] and lines[-1] == "</details>"


def test_check_of_a_first_run_has_no_history(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run,) = make_runs(tmp_path / "runs", 1)
    code, out, _ = bench("history", "check", run, "--db", db, capsys=capsys)
    assert code == 0 and "no history" in out and "run r00 on lab1" in out


def test_export_then_import_is_the_same_history(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench("history", "add", *make_runs(tmp_path / "runs", 8, hello=True), "--db", db, capsys=capsys)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert bench("history", "export", "--db", db, "-o", first, capsys=capsys)[0] == 0
    code, out, _ = bench("history", "import", first, "--db", tmp_path / "copy.sqlite", capsys=capsys)
    assert code == 0 and out.startswith("imported 8 run(s), 0 already in the history")
    bench("history", "export", "--db", tmp_path / "copy.sqlite", "-o", second, capsys=capsys)
    assert first.read_text() == second.read_text()
    table = list(csv.DictReader(first.open()))
    digests = [row for row in table if row["better"] == "equal"]
    assert len(table) - len(digests) == 8 * sum(len(v) for v in baseline_values().values())
    assert len(digests) == 8 * 2 and {(row["workload"], row["unit"], row["value"]) for row in digests} == \
        {("hello", "sha256", DIGEST)}
    assert rows(tmp_path / "copy.sqlite", "equal_values") == rows(db, "equal_values")
    assert set(table[0]) == {"host", "run_id", "started_at", "workload", "platform", "accel", "metric", "dimensions",
                             "unit", "better", "value"}
    # Importing again adds nothing; a run added later from a run directory joins the same host.
    assert "imported 0 run(s), 8 already" in bench("history", "import", first, "--db", db, capsys=capsys)[1]
    bench("history", "add", *make_runs(tmp_path / "more", 1, prefix="m", day0=20), "--db", tmp_path / "copy.sqlite",
          capsys=capsys)
    assert len(rows(tmp_path / "copy.sqlite", "hosts")) == 1


def test_an_import_backfills_a_named_host(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["host,run_id,started_at,workload,platform,accel,metric,unit,better,value"]
    rng = np.random.default_rng(4)
    for i in range(20):
        level = 100.0 if i < 10 else 120.0
        lines += [f"old-lab,b{i:02d},2025-01-{i + 1:02d}T00:00:00Z,cpu,native,none,score,events/s,higher,"
                  f"{level * (1 + 0.01 * rng.standard_normal()):.3f}" for _ in range(3)]
    (tmp_path / "old.csv").write_text("\n".join(lines) + "\n")
    assert bench("history", "import", tmp_path / "old.csv", "--db", db, capsys=capsys)[0] == 0
    (change,) = json.loads(bench("history", "detect", "--db", db, "--json", capsys=capsys)[1])
    assert change["host"] == "old-lab" and change["kind"] == "improvement" and change["first_after"] == "b10"
    assert json.loads(bench("history", "detect", "--db", db, "--json", "--since", "2025-02-01", capsys=capsys)[1]) == []


BAD_CSV = [
    ("host,run_id,started_at,workload,platform,accel,metric,unit,better,value\n"
     "h,r1,2026-01-01,cpu,native,none,score,events/s,higher,fast\n", "bad.csv:2: value 'fast' is not a number"),
    ("host,run_id,started_at,workload,platform,accel,metric,unit,better,value\n"
     "h,r1,2026-01-01,cpu,native,none,score,events/s,bigger,1\n", "bad.csv:2: better is 'bigger', not higher, lower or equal"),
    ("host,run_id,started_at,workload,platform,accel,metric,unit,value\nh,r1,2026-01-01,cpu,native,none,score,s,1\n",
     "bad.csv: missing column(s) better"),
    ("host,run_id,started_at,workload,platform,accel,metric,unit,better,value\n"
     "h,r1,yesterday,cpu,native,none,score,events/s,higher,1\n", "bad.csv:2: started_at 'yesterday' is not an ISO"),
    ("host,run_id,started_at,workload,platform,accel,metric,unit,better,value\n"
     "h,r1,2026-01-01,cpu,native,none,score,events/s,higher,1\nh,r2,2026-01-02,cpu,native,none,score,ms,higher,2\n",
     "bad.csv:3: cpu native none score has another unit or better"),
    ("host,run_id,started_at,workload,platform,accel,metric,unit,better,value\n"
     "h,r1,2026-01-01,cpu,native,none,score,events/s,higher,nan\n", "bad.csv:2: value 'nan' is not a finite number"),
]


@pytest.mark.parametrize("text,message", BAD_CSV)
def test_a_malformed_import_file_writes_nothing(tmp_path: Path, db: Path, text: str, message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.csv").write_text(text)
    code, out, err = bench("history", "import", tmp_path / "bad.csv", "--db", db, capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not db.exists() and out == ""


def test_an_unfinished_run_is_refused(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run,) = make_runs(tmp_path / "runs", 1)
    info = json.loads((run / "run.json").read_text())
    info["plan"] = [{"seq": seq, "repetition": 1, "warmup": False, "platform": "native", "workload": "cpu"}
                    for seq in range(1, 200)]  # more trials planned than recorded
    (run / "run.json").write_text(json.dumps(info))
    for command in ("add", "check"):
        code, _, err = bench("history", command, run, "--db", db, capsys=capsys)
        assert code == 2 and "unfinished run (" in err and "bench run --resume" in err
    assert not db.exists()


def test_a_corrupt_store_is_one_line(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db.write_bytes(b"this is no database, just bytes" * 100)
    before = db.read_bytes()
    for args in (["detect"], ["add", *make_runs(tmp_path / "runs", 1)]):
        code, _, err = bench("history", *args, "--db", db, capsys=capsys)
        assert code == 2 and err.strip() == f"bench: error: history {db}: file is not a database"
    assert db.read_bytes() == before


def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench("history", "add", *make_runs(tmp_path / "runs", 1), "--db", db, capsys=capsys)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (schema.SCHEMA_VERSION + 1,))
    code, _, err = bench("history", "add", *make_runs(tmp_path / "more", 1, prefix="m"), "--db", db, capsys=capsys)
    newer, current = schema.SCHEMA_VERSION + 1, schema.SCHEMA_VERSION
    assert code == 2 and f"written by a newer vmct-bench (schema {newer}; this one reads {current})" in err
    assert len(rows(db, "runs")) == 1


def test_a_store_of_schema_1_is_brought_up_to_date(tmp_path: Path, db: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A history written before equal_values existed keeps its runs and takes in digests."""
    bench("history", "add", *make_runs(tmp_path / "runs", 2), "--db", db, capsys=capsys)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE equal_values")
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version VALUES (1)")
    code, out, err = bench("history", "add", *make_runs(tmp_path / "more", 1, prefix="m", hello=True), "--db", db,
                           capsys=capsys)
    assert code == 0, err
    assert len(rows(db, "runs")) == 3
    assert [r[-1] for r in rows(db, "schema_version")] == [1, schema.SCHEMA_VERSION]
    assert {r[1:] for r in rows(db, "equal_values")} == {("hello", p, "none", "score", "", DIGEST, "sha256")
                                                          for p in ("native", "docker")}


def test_a_missing_store_is_named_and_not_created(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bench("history", "detect", "--db", db, capsys=capsys)
    assert code == 2 and f"no history at {db}" in err and not db.exists()


@pytest.mark.parametrize("url,message", [
    ("postgresql://user:hunter2@host:notaport/db", "--db: a malformed postgresql URL"),
    ("mysql://user:hunter2@localhost/db", "--db: 'mysql' databases are not supported"),
    ("postgresql://user:hunter2@localhost", "names no database"),
    ("postgresql://user:hunter2@127.0.0.1:1/db", "connection"),  # nothing listens on port 1
])
def test_a_bad_database_url_is_one_line_without_its_password(url: str, message: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = bench("history", "detect", "--db", url, capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert "hunter2" not in out + err


def test_bad_arguments_are_one_line(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run,) = make_runs(tmp_path / "runs", 1)
    for args in (["add", run, "--label", "no-equals-sign"], ["detect", "--since", "last tuesday"],
                 ["check", run, "--threshold", "lots"], ["add", tmp_path / "missing"]):
        code, _, err = bench("history", *args, "--db", db, capsys=capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not db.exists()


def test_a_schema_3_store_gains_disturbed_counts_and_the_trend_lists_them(tmp_path: Path) -> None:
    """A store written before trials were judged for disturbance reads 0 for its points; a run
    with disturbed trials is listed by the trend report."""
    db = tmp_path / "h.sqlite"
    url = f"sqlite:///{db}"
    store = open_store(url, create=True)
    key = SeriesKey("cpu", "native", "none", "score", "", "events/s", "higher")
    host = HostFacts("f" * 16, "lab-1")
    add(store, [RunData(host, "r1", "2026-12-01T00:00:00Z", [PointData(key, 10.0, 9.0, 11.0, (10.0,))])])
    with sqlite3.connect(db) as conn:  # as schema 3 left it: no such column
        conn.execute("ALTER TABLE points DROP COLUMN disturbed")
        conn.execute("UPDATE schema_version SET version = 3")
    store = open_store(url)
    add(store, [RunData(host, "r2", "2026-12-02T00:00:00Z", [PointData(key, 9.0, 8.0, 10.0, (9.0, 7.0), disturbed=1)])])
    assert [r[-1] for r in rows(db, "points")] == [0, 1]
    assert trend.build(store).disturbed == [{"host": "lab-1", "run": "r2", "started": "2026-12-02T00:00:00Z",
                                            "disturbed trials": "native cpu ×1"}]
