"""A series: one metric of one workload on one platform under one accelerator, at one set of
dimensions (clients=10), followed across trials, runs and hosts. Its key is the one that the
summary, compare, the history, the exports and the CSV files share; unit and direction describe
a series, the first five fields make it one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from bench.model.registry import label
from bench.model.sample import Better, Sample, dimensions_text, parse_dimensions


@dataclass(frozen=True, order=True)
class SeriesKey:
    workload: str
    platform: str
    accel: str
    metric: str
    dimensions: str  # dimensions_text: "clients=10;stress=fork", "" for none
    unit: str
    better: Better

    @classmethod
    def of(cls, sample: Sample) -> SeriesKey:
        return cls(sample.workload, sample.platform, sample.accel, sample.metric, dimensions_text(sample.dimensions),
                   sample.unit, sample.better)

    @classmethod
    def read(cls, source: Mapping[str, Any] | Any) -> SeriesKey:
        """From anything that names the fields: a CSV row (a dict), a database or summary row."""
        get = source.__getitem__ if isinstance(source, Mapping) else lambda name: getattr(source, name)
        return cls(*(str(get(name)) for name in FIELDS))  # type: ignore[arg-type]

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        """What makes a series one (IDENTITY); its unit and direction only describe it."""
        return self.workload, self.platform, self.accel, self.metric, self.dimensions

    @property
    def dimension_map(self) -> dict[str, str]:
        return parse_dimensions(self.dimensions)

    @property
    def measured(self) -> str:
        """The metric at its dimensions, as a person reads it: "get_ops_s at clients=10"."""
        return at_dimensions(self.metric, self.dimensions)

    @property
    def name(self) -> str:
        """As a person reads it: "boot boot_s on vm-minimal/tcg", "redis get_ops_s at clients=10 on docker"."""
        return f"{self.workload} {self.measured} on {label(self.platform, self.accel)}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def at_dimensions(metric: str, dimensions: str) -> str:
    """A metric at its dimensions as a person reads it: "get_ops_s at clients=10"."""
    return f"{metric} at {dimensions.replace(';', ', ')}" if dimensions else metric


FIELDS = tuple(f.name for f in fields(SeriesKey))
IDENTITY = FIELDS[:5]  # the history's unique key of a series
