"""A run directory: reports/<run-id>/ with run.json, trials.jsonl and summary.csv.

trials.jsonl gets one line per trial, appended and fsync'ed as the trial ends: a crash loses
at most the trial in flight. A last line cut short by a crash is dropped when the run is read
or resumed; a damaged line anywhere else is an error that names it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from bench import config
from bench.analysis.summary import Summary
from bench.errors import BenchError
from bench.host import killpoints
from bench.host.files import temp_path, write_json
from bench.host.proc import os_error
from bench.model.series import FIELDS
from bench.model.trial import PlannedTrial, TrialRecord
from bench.rundir import info as run_info
from bench.rundir.info import RunInfo

RUN_JSON = "run.json"
TRIALS = "trials.jsonl"
SUMMARY = "summary.csv"


def finished_seqs(records: list[TrialRecord]) -> set[int]:
    """Trials that need no rerun: the latest record of their seq is ok or failed."""
    latest = {r.seq: r for r in records}
    return {seq for seq, r in latest.items() if r.status != "aborted"}


def unfinished_seqs(plan: list[PlannedTrial], records: list[TrialRecord]) -> list[int]:
    """Planned trials without a finished record: the run was interrupted (or is running)."""
    done = finished_seqs(records)
    return [t.seq for t in plan if t.seq not in done]


def reports_root() -> Path:
    return Path(os.environ.get("BENCH_REPORTS_DIR", config.PROJECT_ROOT / "reports"))


class RunDir:
    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, root: Path, info: RunInfo) -> RunDir:
        path = root / info.run_id
        try:
            path.mkdir(parents=True)
        except OSError as e:
            raise os_error(f"creating {path}", e) from None
        run = cls(path)
        run.write_info(info)
        (path / TRIALS).touch()
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        run = cls(path)
        run.info()  # fails with one line when this is not a run directory
        return run

    def info(self) -> RunInfo:
        file = self.path / RUN_JSON
        try:
            text = file.read_text()
        except FileNotFoundError:
            raise BenchError(f"{self.path}: not a run directory (no {RUN_JSON})") from None
        except OSError as e:
            raise BenchError(f"{file}: unreadable: {e}") from None
        return run_info.read(text, str(file))

    def write_info(self, info: RunInfo) -> RunInfo:
        """Write run.json; returns the description as a reader of the file gets it."""
        write_json(self.path / RUN_JSON, info.to_json())
        return self.info()

    def records(self) -> list[TrialRecord]:
        file = self.path / TRIALS
        try:
            lines = file.read_text().split("\n")
        except FileNotFoundError:
            return []
        except OSError as e:
            raise os_error(f"reading {file}", e) from None
        records = []
        complete = lines[:-1]  # the text after the last newline is a line cut short, or empty
        for number, line in enumerate(complete, 1):
            if not line.strip():
                continue
            try:
                records.append(TrialRecord.from_json(json.loads(line)))
            except (ValueError, TypeError, KeyError) as e:
                raise BenchError(f"{file}:{number}: not a trial record: {e}") from None
        return records

    def drop_partial_line(self) -> None:
        """Cut a trailing line that a crash left unfinished, so appends start on a new line."""
        file = self.path / TRIALS
        data = file.read_bytes()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            with file.open("r+b") as f:
                f.truncate(end)

    def append(self, record: TrialRecord) -> TrialRecord:
        """Append the record's line; returns the record as the line holds it (its dicts in key
        order), the form every reader of the directory gets."""
        line = json.dumps(record.to_json(), sort_keys=True) + "\n"
        try:
            with (self.path / TRIALS).open("a") as f:
                if killpoints.armed(record.seq, "record"):  # a crash in mid-write
                    f.write(line[:len(line) // 2])
                    f.flush()
                    killpoints.reach(record.seq, "record")
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise os_error(f"appending to {self.path / TRIALS}", e) from None
        return TrialRecord.from_json(json.loads(line))

    def read_summary(self) -> Summary:
        """summary.csv as written; empty when no trial has been recorded."""
        file = self.path / SUMMARY
        try:
            table = pd.read_csv(file, dtype={name: str for name in FIELDS})
        except FileNotFoundError:
            return Summary()
        except (OSError, ValueError) as e:
            raise BenchError(f"{file}: unreadable: {e}") from None
        try:
            return Summary.from_frame(table)
        except (KeyError, TypeError, ValueError) as e:
            raise BenchError(f"{file}: not a summary: {e}") from None

    def write_summary(self, summary: Summary) -> Path:
        final = self.path / SUMMARY
        tmp = temp_path(final)
        try:
            summary.to_frame().to_csv(tmp, index=False, float_format="%.6g")
            os.replace(tmp, final)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise os_error(f"writing {final}", e) from None
        return final
