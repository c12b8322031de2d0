"""A trial's record: one line of trials.jsonl, from the executor to every reader."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.model import units
from bench.model.registry import label
from bench.model.sample import Sample


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
    score: float | str | None = None
    score_unit: str = ""
    exit_code: int | None = None
    guest_seconds: float | None = None  # the command's duration by the guest's clock
    ready_s: float | None = None  # t0 → READY seen by the harness
    result_s: float | None = None  # t0 → RESULT seen by the harness
    teardown_s: float | None = None
    ready_latency_s: float | None = None  # READY written → seen; only where clocks are shared
    phases_s: dict[str, float] = field(default_factory=dict)  # start phases' ends, s after t0
    facts: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    memory_series: list[list[float | None]] = field(default_factory=list)  # [t_s, rss, pss] MiB
    console_tail: list[str] = field(default_factory=list)  # kept when the trial did not succeed

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialRecord:
        fields = {k: v for k, v in data.items() if k != "ok"}
        fields["samples"] = [Sample.from_json(s) for s in fields.get("samples", [])]
        return cls(**fields)

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
