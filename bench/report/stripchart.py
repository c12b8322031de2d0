"""The per-metric chart as plain SVG: every trial a dot, the median a bar, its 95% CI a line.

Drawn directly rather than through matplotlib (which takes about 0.2 s a chart, and a report
has dozens): the same picture in about a millisecond. matplotlib still chooses the tick
values, and still draws the report's few composite charts (charts.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from bench.report.svgframe import Frame, ticks

FRAME = Frame(width=440, height=240, left=58, right=10, top=24, bottom=34)
WIDTH, HEIGHT, LEFT, BOTTOM = FRAME.width, FRAME.height, FRAME.left, FRAME.bottom


@dataclass(frozen=True)
class Group:
    """One platform's trials of one run, already in the chart's unit."""
    platform: str
    colour: str
    values: list[float]
    median: float
    ci: tuple[float, float] | None


def chart(title: str, axis_label: str, slots: list[str], groups: list[list[Group]], log: bool,
          legend: list[tuple[str, str]]) -> str:
    """`slots`: the x positions' labels; `groups[i]`: what stands at slot i (one per run)."""
    everything = [v for at_slot in groups for g in at_slot for v in [*g.values, *(g.ci or ())]]
    if log:
        low, high = min(everything) / 1.3, max(everything) * 1.3
    else:
        low, high = min(0.0, min(everything, default=0.0)), max(everything, default=1.0) * 1.08 or 1.0
    plot_w, plot_h = FRAME.plot_w, FRAME.plot_h

    def y(value: float) -> float:
        if log:
            share = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
        else:
            share = (value - low) / (high - low)
        return round(FRAME.top + plot_h * (1 - share), 2)

    out = FRAME.open(title, "strip", axis_label, [(t, y(t)) for t in ticks(low, high, log)])
    band = plot_w / max(len(slots), 1)
    for i, (slot, at_slot) in enumerate(zip(slots, groups)):
        centre = LEFT + band * (i + 0.5)
        out.append(f'<text x="{round(centre, 2)}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
                   f'{escape(slot)}</text>')
        width = band * 0.7 / max(len(at_slot), 1)
        for j, g in enumerate(at_slot):
            x = centre + (j - (len(at_slot) - 1) / 2) * width
            order = sorted(range(len(g.values)), key=lambda k: g.values[k])
            for rank, k in enumerate(order):
                dx = (rank - (len(g.values) - 1) / 2) * width * 0.6 / max(len(g.values), 1)
                out.append(f'<circle cx="{round(x + dx, 2)}" cy="{y(g.values[k])}" r="2.6" fill="{g.colour}" '
                           'fill-opacity="0.6"/>')
            out.append(f'<line x1="{round(x - width * 0.4, 2)}" x2="{round(x + width * 0.4, 2)}" y1="{y(g.median)}" '
                       f'y2="{y(g.median)}" stroke="{g.colour}" stroke-width="2"/>')
            if g.ci is not None:
                cx = round(x + width * 0.42, 2)
                out.append(f'<line x1="{cx}" x2="{cx}" y1="{y(g.ci[0])}" y2="{y(g.ci[1])}" stroke="{g.colour}"/>')
    for k, (name, colour) in enumerate(legend):
        out.append(f'<circle cx="{LEFT + 8 + 110 * k}" cy="{HEIGHT - 8}" r="3" fill="{colour}"/>'
                   f'<text x="{LEFT + 14 + 110 * k}" y="{HEIGHT - 5}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
