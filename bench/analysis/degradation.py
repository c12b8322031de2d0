"""How much a neighbour took from a victim (Matthews et al. 2007): degradation in percent of the
victim's figure alone, D = 100 × (1 − with ÷ alone) for a figure where higher is better, and
100 × (with ÷ alone − 1) for one where lower is better (a latency), so that D > 0 is always a loss.

The interval is the bootstrap CI of the ratio of the two medians (stats.bootstrap_ratio_ci), each side
resampled on its own: a victim trial that did not complete leaves its side shorter, and the
figures of the rest still count. Whether the victim completed at all is reported beside D.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis import stats


@dataclass(frozen=True)
class Degradation:
    percent: float  # D: > 0 the victim lost, < 0 it gained
    interval: stats.Interval  # of D, 95%
    completed: int  # victim trials beside the stress that gave a figure
    attempted: int

    @property
    def did_not_run(self) -> bool:
        """Matthews' DNR: no victim trial beside this stress completed."""
        return self.completed == 0

    def text(self) -> str:
        if self.did_not_run:
            return f"DNR (0 of {self.attempted} completed)"
        shown = f"{self.percent:+.1f} % [{self.interval.low:+.1f}, {self.interval.high:+.1f}]"
        return shown if self.completed == self.attempted else f"{shown}, {self.completed} of {self.attempted} completed"


def degradation(alone: list[float], beside: list[float], better: str, attempted: int | None = None,
                seed: int = 0) -> Degradation:
    """D of the victim's figures beside a stress against its figures alone; `attempted` counts
    the victim's trials beside the stress, completed or not (default: those that gave figures)."""
    if not alone:
        raise ValueError("no figure of the victim alone: degradation has no baseline")
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
    attempted = len(beside) if attempted is None else attempted
    if not beside:
        nan = float("nan")
        return Degradation(nan, stats.Interval(nan, nan), 0, attempted)
    ratio = stats.median(beside) / stats.median(alone)
    ci = stats.bootstrap_ratio_ci(beside, alone, seed)
    if better == "higher":
        return Degradation(100 * (1 - ratio), stats.Interval(100 * (1 - ci.high), 100 * (1 - ci.low)),
                           len(beside), attempted)
    return Degradation(100 * (ratio - 1), stats.Interval(100 * (ci.low - 1), 100 * (ci.high - 1)),
                       len(beside), attempted)
