"""The one jinja2 environment of the HTML reports (the run report and the history's trend
report): templates/, autoescaped, strict about missing names, `human` (units) available."""

from __future__ import annotations

from pathlib import Path

import jinja2

from bench.model import units

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.globals["human"] = units.human
    env.globals["zip"] = zip
    return env
