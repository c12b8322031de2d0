"""The frame of the reports' plain-SVG charts (stripchart.py, history/trend_chart.py): the
svg element with its title, a horizontal grid with labelled ticks, the y-axis label and the two
axes. matplotlib chooses the tick values; nothing of it draws."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from matplotlib.ticker import LogLocator, MaxNLocator

from bench.model import units


def ticks(low: float, high: float, log: bool = False) -> list[float]:
    found = LogLocator(numticks=6).tick_values(low, high) if log else MaxNLocator(nbins=5).tick_values(low, high)
    return [t for t in found if low - 1e-12 <= t <= high + 1e-12]


@dataclass(frozen=True)
class Frame:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom

    def open(self, title: str, css_class: str, axis_label: str, grid: list[tuple[float, float]]) -> list[str]:
        """The chart's first elements; `grid`: (the tick's value as shown, its y)."""
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
               f'viewBox="0 0 {self.width} {self.height}" role="img" aria-label="{escape(title)}" '
               f'class="{css_class}" font-family="system-ui, sans-serif" font-size="9">',
               f'<text x="{self.width / 2}" y="14" text-anchor="middle" font-size="10">{escape(title)}</text>']
        right, bottom = self.width - self.right, self.top + self.plot_h
        for value, ty in grid:
            out.append(f'<line x1="{self.left}" x2="{right}" y1="{ty}" y2="{ty}" stroke="#e4e4e4"/>'
                       f'<text x="{self.left - 4}" y="{ty + 3}" text-anchor="end">{units.plain(value)}</text>')
        out.append(f'<text transform="translate(12 {self.top + self.plot_h / 2}) rotate(-90)" '
                   f'text-anchor="middle">{escape(axis_label)}</text>')
        out.append(f'<line x1="{self.left}" x2="{self.left}" y1="{self.top}" y2="{bottom}" stroke="#888"/>'
                   f'<line x1="{self.left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#888"/>')
        return out
