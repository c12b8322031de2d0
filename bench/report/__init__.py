"""The HTML report: one self-contained file rendered from one or more run directories.

runs loads what a run recorded; verdict, consolidation and caveats turn it into the report's
tables; charts draws the SVGs; html puts it all through the jinja2 template.
"""

from __future__ import annotations

from pathlib import Path

from bench.images.store import write_text
from bench.report import html, runs


def write(loaded: list[runs.LoadedRun], output: Path, options: html.Options) -> Path:
    """Render the runs into `output` (written whole or not at all)."""
    text = html.render(loaded, output, options)
    write_text(output, text)
    return output
