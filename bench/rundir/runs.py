"""A run directory loaded for reporting, comparing or exporting: run.json, the trial
records, and the summary recomputed from them with the run's own seed (so it always matches
trials.jsonl, even for a run cut short before summary.csv was written)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bench.analysis import summary
from bench.analysis.summary import Summary, SummaryRow
from bench.definitions.kinds import KINDS
from bench.definitions.suite import Suite
from bench.definitions.workload import SETTLED_METRIC
from bench.errors import BenchError
from bench.model.registry import is_vm
from bench.model.series import SeriesKey
from bench.model.trial import TrialRecord
from bench.rundir.info import RunInfo
from bench.rundir.results import RunDir


@dataclass
class LoadedRun:
    path: Path
    info: RunInfo
    records: list[TrialRecord]

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def suite(self) -> Suite:
        return self.info.suite

    @property
    def suite_name(self) -> str:
        return self.info.suite.name

    @property
    def seed(self) -> int:
        return self.info.seed

    @cached_property
    def kinds(self) -> dict[str, str]:
        """Each measured workload's kind, as run.json says; a run from before it did is read from
        its trials: an interference trial says which conditions it ran and where its neighbour was."""
        if self.info.kinds:
            return dict(self.info.kinds)
        return {r.workload: "interference" for r in self.records if {"conditions", "placement"} <= r.facts.keys()}

    def workloads_for(self, section: str) -> list[str]:
        """The run's workloads whose kind has this report section of its own, in trial order."""
        return [w for w in dict.fromkeys(r.workload for r in self.counted)
                if (kind := KINDS.get(self.kinds.get(w, ""))) is not None and kind.report_section == section]

    @cached_property
    def counted(self) -> list[TrialRecord]:
        """Successful, measured (not warm-up) trials: the ones every statistic is made of."""
        return [r for r in self.records if r.counted]

    @cached_property
    def summary(self) -> Summary:
        return summary.summarise(self.records)

    @cached_property
    def vm_accels(self) -> set[str]:
        return {s.accel for r in self.counted for s in r.samples if is_vm(s.platform)}

    def with_summary(self, table: Summary) -> LoadedRun:
        """This run with the summary the run that made it computed already (the same figures)."""
        self.__dict__["summary"] = table  # what the cached property would have computed
        return self

    def row(self, workload: str, metric: str, platform: str, dimensions: str = "") -> SummaryRow | None:
        """The summary row of one metric (at its dimensions) of one workload on one platform, if measured."""
        return self.summary.find(workload, metric, platform, dimensions)

    def median(self, workload: str, metric: str, platform: str, dimensions: str = "") -> float | None:
        row = self.row(workload, metric, platform, dimensions)
        return None if row is None else row.median

    @property
    def idle_memory_metric(self) -> str:
        """An idle instance's memory: the settled PSS where the run has it, else the trial's mean."""
        return SETTLED_METRIC if self.workload_with(SETTLED_METRIC) is not None else "mem_pss_mean_mib"

    def workload_with(self, metric: str, preferred: tuple[str, ...] = ()) -> str | None:
        """A workload that measured `metric`: the first of `preferred` that did, else the first."""
        have = self.summary.workloads_with(metric)
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
    run = RunDir(path)
    return LoadedRun(path, run.info(), run.records())
