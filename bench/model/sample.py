"""The one record that flows from the probes through trials.jsonl to summary.csv unchanged.

Modelled on PerfKit Benchmarker's Sample: a metric, its value and unit, plus where it was
measured (platform, workload, accelerator) and how (metadata: probe, trial, repetition).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# "equal": not a quantity but a value every platform must reproduce (hello's digest).
Better = Literal["higher", "lower", "equal"]
# What `accel` says for instances that share the host's kernel (native, docker).
NO_ACCEL = "none"


@dataclass(frozen=True)
class Sample:
    metric: str
    value: float | str  # a str only for better = "equal" (a digest)
    unit: str
    better: Better
    platform: str
    workload: str
    accel: str = NO_ACCEL  # "kvm" or "tcg" for VMs: a TCG number is never a KVM number
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_quantity(self) -> bool:
        """A number to summarise and compare; an "equal" sample is a value to reproduce instead."""
        return self.better != "equal"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        return cls(**data)


@dataclass
class SampleSink:
    """Collects a trial's samples; probes add bare measurements, the sink adds where."""

    platform: str
    workload: str
    accel: str
    trial_metadata: dict[str, Any]
    samples: list[Sample] = field(default_factory=list)

    def add(self, metric: str, value: float | str, unit: str, better: Better = "lower",
            **metadata: Any) -> None:
        self.samples.append(Sample(metric, str(value) if better == "equal" else float(value), unit, better,
                                   self.platform, self.workload, self.accel, {**self.trial_metadata, **metadata}))
