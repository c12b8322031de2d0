"""A series: one metric of one workload on one platform under one accelerator, followed across
trials, runs and hosts. Its key is the one that the summary, compare, the history, the exports
and the CSV files share; unit and direction describe a series, the first four fields make it one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from bench.model.registry import label
from bench.model.sample import Better, Sample


@dataclass(frozen=True, order=True)
class SeriesKey:
    workload: str
    platform: str
    accel: str
    metric: str
    unit: str
    better: Better

    @classmethod
    def of(cls, sample: Sample) -> SeriesKey:
        return cls(sample.workload, sample.platform, sample.accel, sample.metric, sample.unit, sample.better)

    @classmethod
    def read(cls, source: Mapping[str, Any] | Any) -> SeriesKey:
        """From anything that names the fields: a CSV row (a dict), a database or summary row."""
        get = source.__getitem__ if isinstance(source, Mapping) else lambda name: getattr(source, name)
        return cls(*(str(get(name)) for name in FIELDS))  # type: ignore[arg-type]

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What makes a series one (IDENTITY); its unit and direction only describe it."""
        return self.workload, self.platform, self.accel, self.metric

    @property
    def name(self) -> str:
        """As a person reads it: "boot boot_s on vm-minimal/tcg"."""
        return f"{self.workload} {self.metric} on {label(self.platform, self.accel)}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


FIELDS = tuple(f.name for f in fields(SeriesKey))
IDENTITY = FIELDS[:4]  # the history's unique key of a series
