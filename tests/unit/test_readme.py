"""The README a newcomer finishes: short, the two set-up commands first, every link it and the
reference pages give leads to a file that is there, and its picture is the report's first screen."""

from __future__ import annotations

import re
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_short_and_starts_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 150
    first = lines.index("```sh")
    assert [line.split("#")[0].strip() for line in lines[first + 1:first + 3]] == ["make run", "make test"]
    assert lines[first + 3] == "```"


def test_every_link_of_the_readme_and_the_reference_pages_leads_to_a_file() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    assert {p.name for p in pages} >= {"platforms.md", "workloads.md", "suites.md", "reports.md", "history.md",
                                       "exposure.md"}
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_the_picture_is_a_first_screen_at_1400_by_900() -> None:
    (picture,) = [ROOT / t for t in LINK.findall(README.read_text()) if t.endswith(".png")]
    head = picture.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1400, 900)
