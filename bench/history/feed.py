"""`bench history feed`: the change points as an Atom feed (RFC 4287), newest first, for a chat
or mail bridge to follow. Each entry's id is the change point's own (stable across analyses),
its time the first run after the change, its text the levels, p and the stack change."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bench.analysis.tables import percent
from bench.history import render
from bench.history.detect import ChangePoint
from bench.model import units

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:vmct-bench:history"


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    element.text = text
    return element


def atom(changes: list[ChangePoint], title: str = "vmct-bench change points") -> str:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", FEED_ID)
    _text(feed, "title", title)
    newest = sorted(changes, key=lambda c: (c.first_after_at, c.id), reverse=True)
    # The feed changes when its newest entry does; a fixed time when it has none, so the same
    # history always gives the same bytes.
    _text(feed, "updated", newest[0].first_after_at if newest else "1970-01-01T00:00:00Z")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "vmct-bench")
    for change in newest:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", f"urn:vmct-bench:change:{change.id}")
        acked = " (acknowledged)" if change.acked is not None else ""
        _text(entry, "title", f"{change.kind}{acked}: {change.series} on {change.host} {percent(change.change)}")
        _text(entry, "updated", change.first_after_at)
        _text(entry, "summary", f"{render.level_text(change)} between runs {change.last_before} and "
              f"{change.first_after} (p {units.plain(change.p)}); stack: {render.stack_text(change)}"
              + (f"; acknowledged: {change.acked}" if change.acked else ""))
        _text(entry, "category", "", term=change.kind)
    ET.indent(feed)
    return ET.tostring(feed, encoding="unicode", xml_declaration=True) + "\n"
