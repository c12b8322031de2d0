"""A run directory loaded for reporting, comparing or exporting: run.json, the trial
records, and the summary recomputed from them with the run's own seed (so it always matches
trials.jsonl, even for a run cut short before summary.csv was written)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis import summary
from bench.definitions.workload import SETTLED_METRIC
from bench.errors import BenchError
from bench.model.registry import is_vm
from bench.model.series import SeriesKey
from bench.model.trial import TrialRecord
from bench.rundir.results import RunDir


@dataclass
class LoadedRun:
    path: Path
    info: dict[str, Any]
    records: list[TrialRecord]

    @property
    def run_id(self) -> str:
        return str(self.info.get("run_id", self.path.name))

    @property
    def suite_name(self) -> str:
        return str(self.info["suite"].get("name", "?"))

    @property
    def suite_workloads(self) -> list[str]:
        return list(self.info["suite"].get("workloads", []))

    @property
    def seed(self) -> int:
        return int(self.info.get("seed", 0))

    @cached_property
    def counted(self) -> list[TrialRecord]:
        """Successful, measured (not warm-up) trials: the ones every statistic is made of."""
        return [r for r in self.records if r.counted]

    @cached_property
    def summary(self) -> pd.DataFrame:
        return summary.summarise(self.records)

    @cached_property
    def vm_accels(self) -> set[str]:
        return {s.accel for r in self.counted for s in r.samples if is_vm(s.platform)}

    def with_summary(self, table: pd.DataFrame) -> LoadedRun:
        """This run with the summary the run that made it computed already (the same figures)."""
        self.__dict__["summary"] = table  # what the cached property would have computed
        return self

    def row(self, workload: str, metric: str, platform: str, dimensions: str = "") -> pd.Series | None:
        """The summary row of one metric (at its dimensions) of one workload on one platform, if measured."""
        table = self.summary
        if table.empty:
            return None
        rows = table[(table["workload"] == workload) & (table["metric"] == metric) & (table["platform"] == platform)
                     & (table["dimensions"] == dimensions)]
        return None if rows.empty else rows.iloc[0]

    def median(self, workload: str, metric: str, platform: str, dimensions: str = "") -> float | None:
        row = self.row(workload, metric, platform, dimensions)
        return None if row is None else float(row["median"])

    @property
    def idle_memory_metric(self) -> str:
        """An idle instance's memory: the settled PSS where the run has it, else the trial's mean."""
        return SETTLED_METRIC if self.workload_with(SETTLED_METRIC) is not None else "mem_pss_mean_mib"

    def workload_with(self, metric: str, preferred: tuple[str, ...] = ()) -> str | None:
        """A workload that measured `metric`: the first of `preferred` that did, else the first."""
        table = self.summary
        have = list(dict.fromkeys(table.loc[table["metric"] == metric, "workload"])) if not table.empty else []
        return next((name for name in preferred if name in have), have[0] if have else None)

    @cached_property
    def values(self) -> dict[SeriesKey, list[float]]:
        """Each series' counted trial values, in trial order."""
        return summary.series_values(self.counted)

    @cached_property
    def equal_values(self) -> dict[SeriesKey, list[str]]:
        """Each series of values to reproduce (better = "equal": hello's digest): what every
        counted trial gave, in trial order."""
        found: dict[SeriesKey, list[str]] = {}
        for record in self.counted:
            for s in record.samples:
                if not s.is_quantity:
                    found.setdefault(SeriesKey.of(s), []).append(str(s.value))
        return found

    def values_of(self, workload: str, metric: str, platform: str, dimensions: str = "") -> list[float]:
        """Every counted trial's value of one metric (at its dimensions) on one platform (any
        accelerator), in trial order."""
        wanted = (workload, metric, dimensions, platform)
        return [v for key, vals in self.values.items()
                if (key.workload, key.metric, key.dimensions, key.platform) == wanted for v in vals]

    def first_counted(self, platform: str, workload: str | None = None) -> TrialRecord | None:
        for record in self.counted:
            if record.platform == platform and (workload is None or record.workload == workload):
                return record
        return None


def load(path: Path) -> LoadedRun:
    """A run directory, or a one-line BenchError naming what is wrong with it."""
    if not path.is_dir():
        raise BenchError(f"{path}: no such run directory")
    run = RunDir.open(path)
    info = run.info()
    if not isinstance(info.get("suite"), dict):
        raise BenchError(f"{path / 'run.json'}: suite is not a table")
    return LoadedRun(path, info, run.records())
