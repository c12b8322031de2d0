"""The report's charts, drawn with matplotlib as inline SVG.

Output is deterministic: no dates in the metadata, text kept as text (not glyph paths), and
each chart's element ids salted with its own name, so the same runs give the same bytes and
several SVGs can share one HTML page without clashing ids.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402  (the backend is chosen first)
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.analysis import stats  # noqa: E402
from bench.model import units
from bench.model.dimensions import PATH, PROXY  # noqa: E402
from bench.model.sample import parse_dimensions, without_dimension  # noqa: E402
from bench.model.series import at_dimensions  # noqa: E402
from bench.model.trial import TrialRecord  # noqa: E402
from bench.probes import boot  # noqa: E402
from bench.report import boot_phases, stripchart  # noqa: E402
from bench.report.verdict import column_name, platforms  # noqa: E402
from bench.rundir.runs import LoadedRun  # noqa: E402

STYLE = {"svg.fonttype": "none", "font.size": 8, "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 96}
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
LOG_SPREAD = 30  # a time whose values span more than this factor is drawn on a log axis
LOG_UNITS = ("s", "µs")


@contextmanager
def _figure(salt: str, **kwargs: object) -> Iterator[tuple[Figure, object]]:
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": salt}):
        fig, axes = plt.subplots(layout="constrained", **kwargs)  # type: ignore[arg-type]
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # no XML declaration or doctype inside HTML


def _all_platforms(runs: list[LoadedRun]) -> list[str]:
    seen: dict[str, None] = {}
    for run in runs:
        seen.update(dict.fromkeys(platforms(run)))
    return list(seen)


def _x_labels(runs: list[LoadedRun], shown: list[str]) -> list[str]:
    return [column_name(p, runs[0]) if len(runs) == 1 else p for p in shown]


def metric_chart(runs: list[LoadedRun], workload: str, metric: str, unit: str, dimensions: str = "") -> str:
    """Every counted trial as a dot, the median as a bar and its 95% CI as a line, per platform
    (the platforms that measured this metric at these dimensions; a server's on each network path
    its client took, a slot each where a platform took two). A linear axis starts at zero; values
    spanning more than LOG_SPREAD× go on a log axis, which says so."""
    slots = _slots(runs, workload, metric, dimensions)
    everything = [v for run in runs for p, d in slots for v in run.values_of(workload, metric, p, d)]
    scale = units.scale_for(max(map(abs, everything), default=0.0), unit)
    positive = [v for v in everything if v > 0]
    # Only times go on a log axis: a size or a count is read against zero, whatever its spread.
    log = (unit in LOG_UNITS and bool(positive) and min(positive) * LOG_SPREAD < max(positive)
           and len(positive) == len(everything))
    groups = []
    for platform, at in slots:
        at_slot = []
        for j, run in enumerate(runs):
            values = [v / scale.factor for v in run.values_of(workload, metric, platform, at)]
            if not values:
                continue
            row = run.row(workload, metric, platform, at)  # the summary's interval, not a second bootstrap
            ci = None
            if row is not None and len(values) > 1:
                ci = (row.ci_low / scale.factor, row.ci_high / scale.factor)
            at_slot.append(stripchart.Group(platform, RUN_COLOURS[j % len(RUN_COLOURS)], values,
                                            stats.median(values), ci))
        groups.append(at_slot)
    legend = [(run.run_id, RUN_COLOURS[j % len(RUN_COLOURS)]) for j, run in enumerate(runs)] if len(runs) > 1 else []
    labels = _x_labels(runs, [p for p, _ in slots])
    paths = [parse_dimensions(d).get(PATH, "") for _, d in slots]
    twice = {p for p, _ in slots if [q for q, _ in slots].count(p) > 1}
    labels = [f"{label} ({path})" if p in twice else label for label, path, (p, _) in zip(labels, paths, slots)]
    return stripchart.chart(f"{workload}: {at_dimensions(metric, dimensions)}", scale.unit + (" (log scale)" if log else ""),
                            labels, groups, log, legend)


def _slots(runs: list[LoadedRun], workload: str, metric: str, dimensions: str) -> list[tuple[str, str]]:
    """(platform, its figure's full dimensions) for each platform that measured the metric at
    these dimensions, whatever network path: one per path a platform's client took."""
    found: dict[tuple[str, str], None] = {}
    for platform in _all_platforms(runs):
        for run in runs:
            for key in sorted(run.values, key=lambda k: k.dimensions):
                if (key.workload, key.metric, key.platform) == (workload, metric, platform) and \
                        without_dimension(key.dimensions, PATH) == dimensions:
                    found[(platform, key.dimensions)] = None
    return list(found)


def boot_segments(run: LoadedRun, workload: str, platform: str) -> dict[str, float]:
    """Consecutive segments from t0 to READY: each start phase's median end time across the
    trials, in order, then READY's median. They add up to the median time to READY even when
    phases finish in a different order from trial to trial (a container's first output can
    come before or after its start call returns)."""
    trials = [r for r in run.counted if r.platform == platform and r.workload == workload and r.ready_s is not None]
    if not trials:
        return {}
    ready = stats.median([r.ready_s for r in trials if r.ready_s is not None])
    names = dict.fromkeys(name for r in trials for name in r.phases_s)
    ends = {name: stats.median([r.phases_s[name] for r in trials if name in r.phases_s]) for name in names}
    return boot.segments(ends, ready)


LABEL_MIN_SHARE = 0.14  # a segment narrower than this share of its bar gets no label inside


def boot_breakdown_chart(runs: list[LoadedRun], workload: str) -> str | None:
    """Per platform that measured it, its own time axis: the start phases' median durations
    stacked to READY. Segments too narrow for their name are named in the legend only."""
    measured = {p: [boot_segments(run, workload, p) for run in runs] for p in _all_platforms(runs)}
    shown = [p for p, per_run in measured.items() if any(per_run)]
    if not shown:
        return None
    with _figure(f"boot-{workload}", nrows=len(shown), figsize=(6.4, 0.9 + 0.75 * len(shown) * len(runs)),
                 squeeze=False) as (fig, axes):
        palette = plt.get_cmap("tab10")
        phase_colour: dict[str, object] = {}
        for row, platform in enumerate(shown):
            ax = axes[row][0]
            labels = []
            totals = [sum(segments.values()) for segments in measured[platform]]
            scale = units.scale_for(max(totals), "s")
            for j, (run, segments) in enumerate(zip(runs, measured[platform])):
                left = 0.0
                for phase, seconds in segments.items():
                    colour = phase_colour.setdefault(phase, palette(len(phase_colour) % 10))
                    width = seconds / scale.factor
                    ax.barh(j, width, left=left, color=colour, height=0.6)
                    if max(totals) and seconds / max(totals) >= LABEL_MIN_SHARE:
                        ax.text(left + width / 2, j, phase, ha="center", va="center", fontsize=6)
                    left += width
                total = f" — {units.human(sum(segments.values()), 's')}" if segments else " — not measured"
                labels.append(f"{column_name(platform, run)}" + (f" · {run.run_id}" if len(runs) > 1 else "") + total)
            ax.set_yticks(range(len(runs)), labels)
            ax.set_xlim(left=0)
            ax.set_xlabel(f"{scale.unit} since t0 (first create call)")
            ax.grid(axis="y", visible=False)
        fig.legend(handles=[matplotlib.patches.Patch(color=c, label=name) for name, c in phase_colour.items()],
                   loc="outside lower center", ncols=min(len(phase_colour), 6), fontsize=6, frameon=False)
        fig.suptitle(f"{workload}: t0 to READY, each segment ending at the event it names "
                     "(median times; each platform on its own scale)", fontsize=8)
        return _svg(fig)


def vm_phases_chart(runs: list[LoadedRun], workload: str) -> str | None:
    """Each VM platform's boot in its four parts (median segments), all on one axis; below, the
    published figures on an axis of their own, marked as other hardware under KVM."""
    rows = [(f"{column_name(p, run)}" + (f" · {run.run_id}" if len(runs) > 1 else ""), folded)
            for run in runs for p in platforms(run)
            if (folded := boot_phases.parts(boot_segments(run, workload, p)))]
    if not rows:
        return None
    palette = plt.get_cmap("tab10")
    colour = {**{part: palette(k) for k, part in enumerate(boot_phases.PARTS)}, boot_phases.UNSPLIT: "#9e9e9e"}
    published = boot_phases.PUBLISHED
    with _figure(f"vm-phases-{workload}", nrows=2, figsize=(6.4, 1.6 + 0.3 * (len(rows) + len(published))),
                 height_ratios=[len(rows), len(published)]) as (fig, (ours, theirs)):
        for ax, bars, unit in ((ours, rows, "s"), (theirs, [(p.setting, p.parts_ms) for p in published], "ms")):
            for j, (_, folded) in enumerate(bars):
                left = 0.0
                for part in colour:
                    width = folded.get(part, 0.0)
                    if width:
                        ax.barh(j, width, left=left, color=colour[part], height=0.6,
                                hatch="//" if ax is theirs else None, edgecolor="white" if ax is theirs else None)
                        left += width
                ax.text(left, j, f" {units.human(left, 's')}" if unit == "s" else f" {left:.0f} ms", va="center", fontsize=6)
            ax.set_yticks(range(len(bars)), [name for name, _ in bars], fontsize=6)
            ax.invert_yaxis()
            ax.set_xlim(left=0)
            ax.grid(axis="y", visible=False)
        ours.set_xlabel("s since t0 (first create call), this run")
        theirs.set_xlabel("ms, published: other hardware, KVM")
        fig.legend(handles=[matplotlib.patches.Patch(color=c, label=boot_phases.PART_NAMES[p]) for p, c in colour.items()],
                   loc="outside lower center", ncols=5, fontsize=6, frameon=False)
        fig.suptitle(f"{workload}: each VM's boot, VMM → firmware → kernel → init (median times)", fontsize=8)
        return _svg(fig)


def _series_trial(run: LoadedRun, platform: str, workload: str) -> TrialRecord | None:
    for record in run.counted:
        if record.platform == platform and record.workload == workload and record.memory_series:
            return record
    return None


def memory_chart(runs: list[LoadedRun], workload: str) -> tuple[str | None, list[str]]:
    """Host-side RSS and PSS over one trial of each platform (its first measured one), and
    the platforms left out because no trial of theirs recorded a series."""
    every = _all_platforms(runs)
    shown = [p for p in every if any(_series_trial(run, p, workload) for run in runs)]
    left_out = [column_name(p, runs[0]) if len(runs) == 1 else p for p in every if p not in shown]
    if not shown:
        return None, left_out
    with _figure(f"memory-{workload}", ncols=len(shown), figsize=(2.3 * len(shown) + 0.6, 2.3),
                 squeeze=False) as (fig, axes):
        for col, platform in enumerate(shown):
            ax = axes[0][col]
            for j, run in enumerate(runs):
                record = _series_trial(run, platform, workload)
                if record is None:
                    continue
                colour = RUN_COLOURS[j % len(RUN_COLOURS)]
                times = [p[0] for p in record.memory_series]
                ax.plot(times, [p[1] for p in record.memory_series], color=colour, linewidth=1,
                        label=f"RSS {run.run_id}" if len(runs) > 1 else "RSS")
                pss = [(p[0], p[2]) for p in record.memory_series if p[2] is not None and not math.isnan(p[2])]
                if pss:
                    ax.plot([t for t, _ in pss], [v for _, v in pss], color=colour, linestyle="none",
                            marker="o", markersize=3, label=f"PSS {run.run_id}" if len(runs) > 1 else "PSS")
            ax.set_title(column_name(platform, runs[0]) if len(runs) == 1 else platform)
            ax.set_xlabel("s since start")
            if col == 0:
                ax.set_ylabel("MiB")
                ax.legend(fontsize=6, frameon=False)
            ax.set_ylim(bottom=0)
        fig.suptitle(f"{workload}: memory of one trial per platform", fontsize=8)
        return _svg(fig), left_out


def curves_chart(run: LoadedRun, workload: str, metrics: list[tuple[str, str]], parameter: str) -> str | None:
    """Each (metric, unit) against the client's values (`parameter`: clients, connections), one
    line per platform through its medians with their 95% CI as whiskers, one panel per metric:
    Felter's curves of throughput (and latency) against load. None with fewer than two values."""
    wanted = {m for m, _ in metrics}
    points: dict[tuple[str, tuple[str, str]], list[tuple[int, float, float, float]]] = {}
    for row in (r for r in run.summary.of_workload(workload) if r.metric in wanted):
        found = parse_dimensions(row.dimensions)
        path = found.pop(PATH, "")
        value = found.pop(parameter, "")
        if value.isdigit() and not found:
            line = (row.platform, path)
            points.setdefault((row.metric, line), []).append((int(value), row.median, row.ci_low, row.ci_high))
    if len({x for found in points.values() for x, *_ in found}) < 2:
        return None
    lines = sorted({line for _, line in points}, key=lambda line: (platforms(run).index(line[0]), line[1]))
    paths = {platform: [p for q, p in lines if q == platform] for platform, _ in lines}
    with _figure(f"curves-{workload}", ncols=len(metrics), figsize=(3.2 * len(metrics) + 0.4, 2.5),
                 squeeze=False) as (fig, axes):
        for col, (metric, unit) in enumerate(metrics):
            ax = axes[0][col]
            every = [v for line in lines for _, med, low, high in points.get((metric, line), []) for v in (med, low, high)]
            scale = units.scale_for(max(map(abs, every), default=0.0), unit)
            for k, (platform, path) in enumerate(lines):
                found = sorted(points.get((metric, (platform, path)), []))
                if not found:
                    continue
                name = column_name(platform, run) + (f" ({path})" if len(paths[platform]) > 1 else "")
                xs = [x for x, *_ in found]
                meds = [m / scale.factor for _, m, _, _ in found]
                below = [max(0.0, (m - low) / scale.factor) for _, m, low, _ in found]
                above = [max(0.0, (high - m) / scale.factor) for _, m, _, high in found]
                ax.errorbar(xs, meds, yerr=[below, above], marker="o", markersize=3, linewidth=1, capsize=2,
                            color=RUN_COLOURS[k % len(RUN_COLOURS)], linestyle="--" if path == PROXY else "-",
                            label=name)
            ax.set_xscale("log")
            ax.set_xticks(sorted({x for line in lines for x, *_ in points.get((metric, line), [])}))
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.minorticks_off()
            ax.set_xlabel(parameter)
            ax.set_ylabel(scale.unit)
            ax.set_title(metric)
            ax.set_ylim(bottom=0)
            if col == 0:
                ax.legend(fontsize=6, frameon=False)
        fig.suptitle(f"{workload}: against {parameter}, median and 95% CI per platform", fontsize=8)
        return _svg(fig)
