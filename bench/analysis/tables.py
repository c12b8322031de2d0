"""Result tables for the terminal and for a CI job summary (markdown), and their numbers."""

from __future__ import annotations

import math


def text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns two spaces apart."""
    every = [header] + rows
    widths = [max(len(row[i]) for row in every) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in every]


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(header: list[str], rows: list[list[str]], bold: str | None = None) -> list[str]:
    """A GitHub-flavoured table; a row whose first cell is `bold` is set in bold there."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [markdown_cell(c) for c in row]
        if bold is not None and row[0] == bold:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def percent(change: float) -> str:
    """A relative change as +12.3%; an infinite one is a value that appeared from 0."""
    return f"{change:+.1%}" if math.isfinite(change) else "new (baseline 0)"
