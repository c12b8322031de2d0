"""Numbers as a person reads them: three significant digits, a unit scaled to the value
(µs/ms/s, KiB/MiB/GiB, Mbit/s/Gbit/s), ratios as 7.5×, never scientific notation.
Raw values stay raw in summary.csv and the exports; only what is printed goes through here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A unit's family: the steps it may be shown in, each with its size in the base unit.
FAMILIES: dict[str, tuple[tuple[str, float], ...]] = {
    "s": (("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)),
    "µs": (("ns", 1e-3), ("µs", 1.0), ("ms", 1e3), ("s", 1e6)),
    "MiB": (("bytes", 2**-20), ("KiB", 2**-10), ("MiB", 1.0), ("GiB", 2**10), ("TiB", 2**20)),
    "bytes": (("bytes", 1.0), ("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)),
    "MiB/s": (("KiB/s", 2**-10), ("MiB/s", 1.0), ("GiB/s", 2**10)),
    "Mbit/s": (("kbit/s", 1e-3), ("Mbit/s", 1.0), ("Gbit/s", 1e3)),
}

MIB = 2**20  # bytes


@dataclass(frozen=True)
class Scale:
    """One unit to show several related values in (a median and its interval alike)."""
    unit: str
    factor: float  # base units per shown unit

    def number(self, value: float) -> str:
        return significant(value / self.factor)

    def __call__(self, value: float) -> str:
        return f"{self.number(value)} {self.unit}".rstrip()


def scale_for(value: float, unit: str) -> Scale:
    """The largest step of the unit's family in which `value` is at least 1."""
    steps = FAMILIES.get(unit)
    if steps is None or not math.isfinite(value) or value == 0:
        return Scale(unit, 1.0)
    chosen = steps[0]
    for step in steps:
        if abs(value) >= step[1] * 0.9995:  # 999.7 µs rounds to 1.00 ms, not "1000 µs"
            chosen = step
    return Scale(*chosen)


def human(value: float | None, unit: str) -> str:
    """One value with its unit: 0.000331 s → '331 µs', 332.11 MiB → '332 MiB'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return scale_for(value, unit)(value)


def interval(low: float, high: float, unit: str, like: float | None = None) -> str:
    """'1.21–1.25 s', in the scale of `like` (the median it belongs to) when given."""
    scale = scale_for(like if like is not None else high, unit)
    return f"{scale.number(low)}–{scale.number(high)} {scale.unit}".rstrip()


def significant(value: float, digits: int = 3) -> str:
    """`digits` significant digits, thousands separated, no exponent: 14291 → '14,300'."""
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = digits - 1 - magnitude
    rounded = round(value, decimals)
    if rounded and math.floor(math.log10(abs(rounded))) > magnitude:  # 9.996 → 10.0, one digit fewer
        decimals -= 1
        rounded = round(value, decimals)
    if decimals <= 0:
        return f"{int(rounded):,}"
    return f"{rounded:,.{decimals}f}"


def plain(value: float) -> str:
    """Three significant digits, trailing zeros dropped: 0.05, 7.5, 1,230."""
    text = significant(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def ratio(value: float | None) -> str:
    """7.5×, 0.98×, 1,230×."""
    if value is None or math.isnan(value):
        return "—"
    return f"{plain(value)}×"


def ratio_interval(low: float, high: float) -> str:
    return f"[{ratio(low)}, {ratio(high)}]"


def bytes_(count: float | None) -> str:
    return human(count, "bytes")


def digest(text: str, shown: int = 12) -> str:
    """A digest as a person compares it: its first hex digits."""
    return text[:shown] + "…" if len(text) > shown else text


def figure_kind(unit: str, better: str) -> str | None:
    """What a figure in `unit` measures: "time", "memory" or "throughput", all of them
    quantities that cannot be negative; None for one that has no width (a digest, a count)."""
    if unit in ("s", "ms", "us", "µs", "ns"):
        return "time"
    if unit in ("MiB", "KiB", "GiB", "B"):
        return "memory"
    return "throughput" if better == "higher" else None


def below_resolution(unit: str, better: str, median: float, low: float, high: float) -> bool:
    """A figure that cannot be negative reads at or below zero, or its interval reaches across
    zero: the host's noise is as large as the figure."""
    return figure_kind(unit, better) is not None and (median <= 0 or low <= 0 < high)


def figure(median: float, low: float, high: float, unit: str, better: str) -> str:
    """A summary figure as shown: its median, or below resolution with the half-width its
    interval spans."""
    if below_resolution(unit, better, median, low, high):
        return f"below resolution (±{human((high - low) / 2, unit)})"
    return human(median, unit)


SIZE_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """'64GiB', '64G', '1.5TiB', '512MiB' → bytes; ValueError otherwise."""
    cleaned = text.strip().lower().removesuffix("b").removesuffix("i")
    if not cleaned or cleaned[-1] not in SIZE_UNITS:
        raise ValueError(f"not a size like 64GiB or 1TiB: {text!r}")
    value = float(cleaned[:-1])
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a positive size: {text!r}")
    return int(value * SIZE_UNITS[cleaned[-1]])
