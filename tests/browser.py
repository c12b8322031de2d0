"""Open an HTML file in a real headless browser (Debian's chromium, driven by Playwright) with
the network off, and report what a reader would meet: which sections show, every request
that tried to leave the file, every console error, and a screenshot of the first screen."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian's package, installed by `make test`
VIEWPORT = {"width": 1400, "height": 900}


@dataclass
class PageSeen:
    visible: dict[str, bool]
    requests: list[str] = field(default_factory=list)  # anything but the file itself
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    first_screen_text: str = ""
    layout: dict = field(default_factory=dict)  # where the report's first parts sit (LAYOUT)
    opened: bool = False  # clicking the first finding's summary opened it and showed its claim


def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    return CHROMIUM


# Tops in page pixels (the first screen ends at the viewport's height) and the lines of text the
# visible warnings take before the verdict table.
LAYOUT = """() => {
  const top = e => e ? e.getBoundingClientRect().top + window.scrollY : null;
  const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const lines = li => { const s = getComputedStyle(li);
    return Math.round((li.getBoundingClientRect().height - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom))
                      / parseFloat(s.lineHeight)); };
  const verdict = top(document.querySelector('#verdict'));
  const warnings = Array.from(document.querySelectorAll('#warnings ul.caveats > li'))
    .filter(li => shown(li) && top(li) < verdict);
  return {scorecard: top(document.querySelector('#scorecard')),
          findings: Array.from(document.querySelectorAll('.finding')).map(top),
          warning_lines: warnings.reduce((n, li) => n + lines(li), 0), verdict: verdict};
}"""


def open_page(html: Path, sections: tuple[str, ...], screenshot: Path) -> PageSeen:
    from playwright.sync_api import sync_playwright

    url = html.resolve().as_uri()
    seen = PageSeen({})
    with sync_playwright() as playwright:
        # No sandbox: it needs user namespaces or a setuid helper, which a root CI job may lack.
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True, viewport=VIEWPORT)
            context.route("**/*", lambda route: route.continue_() if route.request.url == url else _refuse(route, seen))
            page = context.new_page()
            page.on("console", lambda message: seen.console_errors.append(message.text)
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
            page.goto(url, wait_until="load")
            seen.visible = {name: page.locator(f"#{name}").is_visible() for name in sections}
            seen.first_screen_text = page.evaluate(
                "() => { const h = window.innerHeight; return Array.from(document.querySelectorAll('h1,h2,p,b'))"
                ".filter(e => e.getBoundingClientRect().top < h).map(e => e.innerText).join('\\n'); }")
            page.screenshot(path=str(screenshot))
            seen.layout = page.evaluate(LAYOUT)
            finding = page.locator("#findings .finding details").first
            if finding.count():
                finding.locator("summary").click()
                seen.opened = finding.get_attribute("open") is not None and finding.locator(".claim").is_visible()
        finally:
            browser.close()
    return seen


def _refuse(route: object, seen: PageSeen) -> None:
    seen.requests.append(route.request.url)  # type: ignore[attr-defined]
    route.abort()  # type: ignore[attr-defined]


def screenshot(html: Path, png: Path) -> PageSeen:
    """A report's first screen as the README shows it (scripts/report-screenshot)."""
    seen = open_page(html, ("scorecard", "findings"), png)
    if seen.requests or not all(seen.visible.values()):
        raise SystemExit(f"{html}: the first screen did not show whole ({seen.visible}, fetched {seen.requests})")
    return seen
