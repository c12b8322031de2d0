"""The one record that flows from the probes through trials.jsonl to summary.csv unchanged.

Modelled on PerfKit Benchmarker's Sample: a metric, its value and unit, plus where it was
measured (platform, workload, accelerator), under which conditions (dimensions, as Firecracker
keys its metrics: clients=10, stress=fork; never inside the metric's name) and how (metadata:
probe, trial, repetition).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    dimensions: dict[str, str] = field(default_factory=dict)  # name → value, sorted by name

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
            dimensions: Mapping[str, str] | None = None, **metadata: Any) -> None:
        self.samples.append(Sample(metric, str(value) if better == "equal" else float(value), unit, better,
                                   self.platform, self.workload, self.accel, {**self.trial_metadata, **metadata},
                                   sorted_dimensions(dimensions or {})))


def sorted_dimensions(dimensions: Mapping[str, object]) -> dict[str, str]:
    return {name: str(dimensions[name]) for name in sorted(dimensions)}


def dimensions_text(dimensions: Mapping[str, object]) -> str:
    """As summary.csv, the exports and the history write them: `clients=10;stress=fork`, sorted
    by name; "" for none."""
    return ";".join(f"{name}={value}" for name, value in sorted_dimensions(dimensions).items())


def parse_dimensions(text: str) -> dict[str, str]:
    """The mapping of a dimensions text (the inverse of dimensions_text)."""
    found = {}
    for part in filter(None, text.split(";")):
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise ValueError(f"dimension {part!r} is not name=value")
        found[name] = value
    return sorted_dimensions(found)


def dimensions_order(text: str) -> tuple[tuple[str, int, str], ...]:
    """A sort key that puts clients=8 before clients=10."""
    return tuple((name, int(value) if value.isdigit() else -1, value) for name, value in parse_dimensions(text).items())


def without_dimension(text: str, name: str) -> str:
    """A dimensions text with one dimension left out: `clients=1` of `clients=1;path=dnat`."""
    return dimensions_text({k: v for k, v in parse_dimensions(text).items() if k != name})
