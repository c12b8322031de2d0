"""A trial's record: one line of trials.jsonl, from the executor to every reader.

Each line carries `format`: 4 since a trial says whether something else ran on its CPUs, 3 since a server's figures say the network path its client took, 2
since metrics carry dimensions; a line without one (format 1) has its client values and stresses
inside metric names. Older lines are read through model.legacy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.model import legacy, units
from bench.model.registry import label
from bench.model.sample import Sample


BOOT, TEARDOWN, SCORE = "boot_s", "teardown_s", "score"
DENSITY_TEARDOWN = "density_teardown_s"  # all of a density trial's instances, newest first
TEARDOWN_HOW = "host monotonic clock: teardown call to its return"
VIEWS = ("ok", "score", "score_unit", "ready_s", "teardown_s")  # to_json's repeats of samples
FORMAT = 4  # of a trials.jsonl line
CLIENT_PROBE = "parsed from the host client's output"  # how a server's figure says where it came from


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of a run's plan, as run.json keeps it."""

    seq: int  # 1-based position in the run
    repetition: int  # 1-based; warm-up repetitions first
    warmup: bool
    platform: str
    workload: str
    added: str = ""  # why an adaptive repetition was added; empty for planned trials

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedTrial:
        return cls(**data)


@dataclass
class TrialRecord:
    """One line of trials.jsonl."""

    run_id: str
    seq: int
    platform: str
    workload: str
    repetition: int = 1
    warmup: bool = False
    accel: str = ""
    status: str = "failed"  # ok | failed | aborted
    reason: str = ""
    started_at: str = ""
    duration_s: float = 0.0  # the whole trial: setup, run, probes, teardown
    exit_code: int | None = None
    guest_seconds: float | None = None  # the command's duration by the guest's clock
    result_s: float | None = None  # t0 → RESULT seen by the harness
    ready_latency_s: float | None = None  # READY written → seen; only where clocks are shared
    phases_s: dict[str, float] = field(default_factory=dict)  # start phases' ends, s after t0
    facts: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)  # every figure of the trial
    memory_series: list[list[float | None]] = field(default_factory=list)  # [t_s, rss, pss] MiB
    console_tail: list[str] = field(default_factory=list)  # kept when the trial did not succeed
    # Whether other processes took a share of its CPUs' time (probes/disturbance.py); None: not measured.
    disturbed: bool | None = None
    excluded: str = ""  # why a successful trial is not counted (a disturbed one under [precision])
    format: int = FORMAT

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def counted(self) -> bool:
        """A successful, measured (not warm-up) trial not set aside: what every statistic is made of."""
        return self.ok and not self.warmup and not self.excluded

    def sample(self, metric: str, dimensions: dict[str, str] | None = None) -> Sample | None:
        wanted = dimensions or {}
        return next((s for s in self.samples if s.metric == metric and s.dimensions == wanted), None)

    def _value(self, metric: str) -> float | None:
        found = self.sample(metric)
        return None if found is None else float(found.value)

    @property
    def ready_s(self) -> float | None:
        """t0 → READY seen by the harness: the boot_s sample."""
        return self._value(BOOT)

    @property
    def teardown_s(self) -> float | None:
        found = self._value(TEARDOWN)
        return self._value(DENSITY_TEARDOWN) if found is None else found

    @property
    def score(self) -> float | str | None:
        """The workload's [score] sample: a number, or a value to reproduce (hello's digest)."""
        found = self.sample(SCORE)
        return None if found is None else found.value

    @property
    def score_unit(self) -> str:
        found = self.sample(SCORE)
        return "" if found is None else found.unit

    @property
    def quantities(self) -> list[Sample]:
        return [s for s in self.samples if s.is_quantity]

    def to_json(self) -> dict[str, Any]:
        """The line of trials.jsonl. `score`, `score_unit`, `ready_s` and `teardown_s` repeat
        samples for a reader of the file (jq, `bench launch --json`); this package reads the samples."""
        data = asdict(self)
        data.update(ok=self.ok, score=self.score, score_unit=self.score_unit, ready_s=self.ready_s,
                    teardown_s=self.teardown_s)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialRecord:
        fields = {k: v for k, v in data.items() if k not in VIEWS}
        version = fields.setdefault("format", 1)
        if not isinstance(version, int) or version > FORMAT:
            raise ValueError(f"its format {version!r} is not one this vmct-bench reads (up to {FORMAT}): "
                             "written by a newer one?")
        fields["samples"] = [Sample.from_json(s) for s in fields.get("samples", [])]
        record = cls(**fields)
        record._adopt_older_line(data)
        return record

    def _adopt_dimensions(self) -> None:
        """Format 1: the metric and its dimensions out of the name (get_ops_s_c10 → get_ops_s at
        clients=10). Formats 1 and 2: a server's figures took the platform's one network path."""
        suffixes = legacy.suffixes_from_fact(self.facts.get("client_values", "")) or legacy.DEFAULT_SUFFIXES
        network_path = self.facts.get("network_path", "")
        adapted = []
        for s in self.samples:
            metric, dimensions = legacy.split(s.metric, suffixes) if self.format == 1 else (s.metric, s.dimensions)
            if str(s.metadata.get("probe", "")).startswith(CLIENT_PROBE):
                dimensions = legacy.with_path(dimensions, self.platform, network_path)
            changed = (metric, dimensions) != (s.metric, s.dimensions)
            adapted.append(replace(s, metric=metric, dimensions=dimensions) if changed else s)
        self.samples = adapted
        self.format = FORMAT

    def _adopt_older_line(self, data: dict[str, Any]) -> None:
        """Lines written before every figure was a sample: hello's digest was only `score`, and a
        density trial's teardown (the one kind that made no teardown sample) only `teardown_s`."""
        if self.format < FORMAT:
            self._adopt_dimensions()
        where = {"seq": self.seq, "repetition": self.repetition, "warmup": self.warmup}
        score, teardown = data.get("score"), data.get("teardown_s")
        if isinstance(score, str) and self.sample(SCORE) is None:
            self.samples.append(Sample(SCORE, score, str(data.get("score_unit", "")), "equal", self.platform,
                                       self.workload, self.accel,
                                       {**where, "probe": f"parsed from the workload's output ({self.workload}/workload.toml [score])"}))
        if teardown is not None and self.teardown_s is None:
            self.samples.append(Sample(DENSITY_TEARDOWN, float(teardown), "s", "lower", self.platform, self.workload,
                                       self.accel, {**where, "probe": TEARDOWN_HOW}))

    def score_text(self) -> str:
        """The score as a person reads it: a number in human units, or the value itself (a digest)."""
        if self.score is None:
            return ""
        return units.human(self.score, self.score_unit) if isinstance(self.score, float) else str(self.score)

    def summary(self) -> str:
        where = label(self.platform, self.accel)
        if not self.ok:
            tail = "\n".join(f"    | {line}" for line in self.console_tail)
            return f"{where} {self.workload}: {self.status.upper()}: {self.reason}" + (f"\n{tail}" if tail else "")
        score = f"{self.score_text()}; " if self.score is not None else ""
        return (f"{where} {self.workload}: {score}READY after {units.human(self.ready_s, 's')}, "
                f"RESULT after {units.human(self.result_s, 's')}, teardown {units.human(self.teardown_s, 's')}")
