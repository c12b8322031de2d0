"""The HTML report: one self-contained file rendered from one or more run directories.

runs loads what a run recorded; verdict, consolidation and caveats turn it into the report's
tables; charts draws the SVGs; html puts it all through the jinja2 template.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bench.host.files import write_text

if TYPE_CHECKING:  # rendering loads matplotlib and jinja2; what only reads runs does not need them
    from bench.report.html import Options
    from bench.rundir.runs import LoadedRun


def write(loaded: list[LoadedRun], output: Path, options: Options) -> Path:
    """Render the runs into `output` (written whole or not at all)."""
    from bench.report import html

    text = html.render(loaded, output, options)
    write_text(output, text)
    return output
