"""A trend chart as plain SVG: each platform's medians over runs (dots joined, 95% CI
whiskers), its segment levels as a dashed step line, and each change point as a marker with
its relative change and the stack change that came with it (red: a regression, green: an
improvement; the whole stack change as the marker's tooltip). The x axis is run order."""

from __future__ import annotations

import zlib
from html import escape

from bench.analysis.tables import percent
from bench.history.detect import ChangePoint
from bench.history.render import stack_text
from bench.history.trend import Line
from bench.model import registry, units
from bench.report.svgframe import Frame, ticks

FRAME = Frame(width=640, height=250, left=62, right=12, top=24, bottom=44)
WIDTH, HEIGHT, LEFT, RIGHT, TOP = FRAME.width, FRAME.height, FRAME.left, FRAME.right, FRAME.top
COLOURS = ("#555555", "#1f77b4", "#17becf", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22")  # no red or green: those mark changes
BETWEEN = ("#7f7f7f", "#aec7e8", "#c5b0d5", "#ffbb78", "#c49c94", "#dbdb8d")


def platform_colour(platform: str) -> str:
    """A platform's colour, the same in every chart (its place in the report's platform order)."""
    name = registry.by_label(platform.split("/")[0])
    position = registry.order(name)
    if position.is_integer():
        return COLOURS[int(position) % len(COLOURS)]
    return BETWEEN[zlib.crc32(name.encode()) % len(BETWEEN)]  # docker:RUNTIME, between the registered
KIND_COLOUR = {"regression": "#c0392b", "improvement": "#2e7d32"}


def _marker(cx: float, label_y: float, change: ChangePoint, platform: str) -> str:
    """A dotted line at the first run after the change; beside it the change and, when the
    stack changed there, its first item (all of it in the tooltip). Past the middle the label
    goes left of the line, so it stays inside the chart."""
    mark = KIND_COLOUR.get(change.kind, "#333")
    stack = list(change.stack_changes.items())
    label = f"{percent(change.change)} {platform}"
    if stack:
        name, (before, after) = stack[0]
        label += f" · {name} {before or '-'} → {after or '-'}" + (f" (+{len(stack) - 1})" if len(stack) > 1 else "")
    anchor = f'x="{cx + 3}"' if cx < LEFT + FRAME.plot_w / 2 else f'x="{cx - 3}" text-anchor="end"'
    tooltip = (f"{change.kind}: {percent(change.change)} on {platform} from run {change.first_after}; "
               f"stack: {stack_text(change)}")
    return (f'<g class="change"><title>{escape(tooltip)}</title>'
            f'<line x1="{cx}" x2="{cx}" y1="{TOP}" y2="{TOP + FRAME.plot_h}" stroke="{mark}" stroke-dasharray="2 2"/>'
            f'<text {anchor} y="{label_y}" fill="{mark}" stroke="#fff" stroke-width="3" paint-order="stroke">'
            f'{escape(label)}</text></g>')


def chart(title: str, unit: str, lines: list[Line], ratio: bool = False) -> str:
    times = sorted({t for line in lines for t in line.started_at})
    position = {t: i for i, t in enumerate(times)}
    everything = [v for line in lines for low, high in line.intervals for v in (low, high)]
    everything += [v for line in lines for v in line.medians]
    scale = units.Scale("×", 1.0) if ratio else units.scale_for(max(map(abs, everything), default=0.0), unit)
    high = max(everything, default=1.0) / scale.factor * 1.08 or 1.0
    low = min(0.0, min(everything, default=0.0) / scale.factor)
    plot_w, plot_h = FRAME.plot_w, FRAME.plot_h

    def x(t: str) -> float:
        return round(LEFT + plot_w * (position[t] + 0.5) / max(len(times), 1), 2)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - (value / scale.factor - low) / (high - low)), 2)

    grid = [(t, y(t * scale.factor)) for t in ticks(low, high)]
    out = FRAME.open(title, "trend", "× native" if ratio else scale.unit, grid)
    if times:
        out.append(f'<text x="{LEFT}" y="{TOP + plot_h + 12}">{escape(times[0][:10])}</text>'
                   f'<text x="{WIDTH - RIGHT}" y="{TOP + plot_h + 12}" text-anchor="end">{escape(times[-1][:10])}'
                   f'</text><text x="{LEFT + plot_w / 2}" y="{TOP + plot_h + 12}" text-anchor="middle">'
                   f'{len(times)} runs, in order</text>')
    for k, line in enumerate(lines):
        colour = platform_colour(line.platform)
        points = " ".join(f"{x(t)},{y(v)}" for t, v in zip(line.started_at, line.medians))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-opacity="0.5"/>')
        for t, v, (lo, hi) in zip(line.started_at, line.medians, line.intervals):
            if hi > lo:
                out.append(f'<line x1="{x(t)}" x2="{x(t)}" y1="{y(lo)}" y2="{y(hi)}" stroke="{colour}" '
                           'stroke-opacity="0.4"/>')
            out.append(f'<circle cx="{x(t)}" cy="{y(v)}" r="2" fill="{colour}"/>')
        steps = " ".join(f"{x(t)},{y(level)}" for t, level in zip(line.started_at, line.levels))
        out.append(f'<polyline points="{steps}" fill="none" stroke="{colour}" stroke-dasharray="4 2"/>')
        for index, change in line.changes:
            out.append(_marker(x(line.started_at[index]), TOP + 9 + 10 * (k % 3), change, line.platform))
        out.append(f'<circle cx="{LEFT + 8 + 120 * (k % 5)}" cy="{HEIGHT - 14 + 10 * (k // 5) - 4}" r="3" '
                   f'fill="{colour}"/><text x="{LEFT + 14 + 120 * (k % 5)}" y="{HEIGHT - 14 + 10 * (k // 5) - 1}">'
                   f'{escape(line.platform)}</text>')
    out.append("</svg>")
    return "".join(out)
