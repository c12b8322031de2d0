"""`bench history detect` for the terminal and for a CI job summary."""

from __future__ import annotations

from bench.analysis.tables import markdown_cell, markdown_table, percent, text_table
from bench.history.detect import ChangePoint, REGRESSION
from bench.model import units

HEADER = ["id", "kind", "host", "series", "last before", "first after", "level", "change", "p", "stack changes"]


def level_text(change: ChangePoint) -> str:
    scale = units.scale_for(max(abs(change.level_before), abs(change.level_after)), change.key.unit)
    return f"{scale.number(change.level_before)} → {scale(change.level_after)}"


def stack_text(change: ChangePoint) -> str:
    if not change.stack_changes:
        return "nothing recorded"
    return "; ".join(f"{name}: {before or '-'} → {after or '-'}" for name, (before, after) in change.stack_changes.items())


def rows(found: list[ChangePoint]) -> list[list[str]]:
    rows = []
    for c in found:
        kind = c.kind if c.acked is None else f"{c.kind} (acked)"
        where = c.first_after if c.range_first == c.range_last else f"{c.first_after} ({c.range_first} .. {c.range_last})"
        rows.append([c.id, kind, c.host, c.series, c.last_before, where,
                     level_text(c), percent(c.change), units.plain(c.p), stack_text(c)])
    return rows


def summary(found: list[ChangePoint]) -> str:
    regressions = [c for c in found if c.kind == REGRESSION]
    open_ = [c for c in regressions if c.acked is None]
    return (f"{len(found)} change point(s): {len(regressions)} regression(s), {len(open_)} not acknowledged; "
            f"{len(found) - len(regressions)} improvement(s)")


def text(found: list[ChangePoint]) -> str:
    if not found:
        return "no change points"
    lines = text_table(HEADER, rows(found))
    lines += [f"acknowledged {c.id}: {c.acked}" for c in found if c.acked is not None]
    lines.append(summary(found))
    return "\n".join(lines)


def markdown(found: list[ChangePoint]) -> str:
    icon = ":x:" if any(c.kind == REGRESSION and c.acked is None for c in found) else ":white_check_mark:"
    lines = [f"### {icon} bench history detect: {markdown_cell(summary(found))}", ""]
    if found:
        lines += ["First run after: where the change shows; in brackets the runs it may have begun at (95%).", ""]
        lines += markdown_table(HEADER, rows(found), bold=REGRESSION)
    return "\n".join(lines)
