"""`bench history report`: the trend report, one self-contained HTML file (inline CSS and SVG,
no JavaScript, nothing fetched, autoescaped, the same history gives the same bytes)."""

from __future__ import annotations

from typing import Any

from bench.history import render, trend_chart
from bench.history.detect import REGRESSION
from bench.history.trend import Trend
from bench.report.jinja import environment


def render_html(trend: Trend, title: str) -> str:
    sections: list[dict[str, Any]] = []
    for (workload, metric), panels in trend.panels.items():
        sections.append({"workload": workload, "metric": metric, "panels": [{
            "host": panel.host,
            "chart": trend_chart.chart(f"{workload}: {metric} on {panel.host}", panel.unit, panel.lines),
            "ratio": trend_chart.chart(f"{workload}: {metric} on {panel.host}, each platform ÷ native", "",
                                       panel.ratios, ratio=True) if panel.ratios else None,
            "changes": sum(len(line.changes) for line in panel.lines),
        } for panel in panels]})
    open_changes = [c for c in trend.changes if c.acked is None]
    return environment().get_template("trend.html.j2").render(
        title=title, hosts=trend.hosts, sections=sections, header=render.HEADER,
        rows=render.rows(open_changes), summary=render.summary(trend.changes),
        regressions=sum(c.kind == REGRESSION for c in open_changes), portability=trend.portability,
        artifacts=trend.artifacts, same_artifacts=trend.same_artifacts, disturbed=trend.disturbed,
        user_space=trend.user_space)
