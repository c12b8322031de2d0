"""The report read in one screen: the scorecard's cells are the summary's ratios, blank where a
platform did not measure; in a real Chromium at 1400×900 the scorecard and every finding start
in the first screen, the warnings take at most 6 lines before the verdict, a finding opens on
click and nothing is fetched."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.definitions.suite import Precision
from bench.model import units
from bench.report import scorecard
from bench.rundir import runs
from bench.rundir.info import PrecisionStop
from bench.rundir.results import RunDir
from tests.unit.synthetic_runs import baseline_values, write_run

DEFAULT_LIKE = ("native", "docker", "docker-app", "gvisor", "vm", "vm-os")  # the default suite's platforms


def default_like_values() -> dict[tuple[str, str, str], list[float]]:
    """The synthetic baseline with the default suite's other platforms: docker-app and gvisor
    measured everything, vm-os only its boot (its CPU and memory cells must stay blank)."""
    values = baseline_values()
    for (workload, platform, metric), v in list(values.items()):
        if platform == "docker":
            values[(workload, "docker-app", metric)] = [x * 0.98 for x in v]
            values[(workload, "gvisor", metric)] = [x * (0.55 if metric == "score" else 3.0) for x in v]
    values[("boot", "vm-os", "boot_s")] = [x * 2.2 for x in values[("boot", "vm", "boot_s")]]
    return values


def test_each_cell_is_the_summarys_ratio_to_native_and_blank_where_not_measured(tmp_path: Path) -> None:
    run = runs.load(write_run(tmp_path, "sc", default_like_values()))
    card = scorecard.scorecard(run)
    columns = [c.label for c in card.columns]
    assert columns == ["Time to ready", "Idle memory", "Image on disk", "CPU"]  # nothing else was measured
    rows = {r.platform: dict(zip(columns, r.cells)) for r in card.rows}
    assert list(rows) == list(DEFAULT_LIKE)
    for (workload, metric, column) in (("boot", "boot_s", "Time to ready"), ("cpu", "score", "CPU")):
        for platform in DEFAULT_LIKE[1:]:
            row, cell = run.row(workload, metric, platform), rows[platform][column]
            if row is None:
                assert cell == scorecard.ScoreCell()  # blank, not zero
                continue
            assert cell.main == units.ratio(row.ratio_to_native)
            assert cell.interval == units.ratio_interval(row.ratio_ci_low, row.ratio_ci_high)
            assert cell.shade == scorecard.cost_shade(row.ratio_to_native, row.better)
        assert rows["native"][column].shade == scorecard.BASELINE
    assert rows["vm-os"]["CPU"].main == "" and rows["vm-os"]["Idle memory"].main == ""
    memory = run.row("idle", "mem_pss_mean_mib", "vm")
    assert memory is not None and rows["vm"]["Idle memory"].main == units.human(memory.median, "MiB")
    assert rows["vm"]["CPU"].shade == "s3" and rows["gvisor"]["CPU"].shade == "s2"  # 0.11× and 0.55× native
    assert [r.accel_note for r in card.rows] == ["", "", "", "", "TCG: an emulator", "TCG: an emulator"]


@pytest.mark.parametrize(("ratio", "better", "shade"), [
    (1.0, "lower", "s0"), (1.2, "lower", "s1"), (0.5, "higher", "s2"), (12.0, "lower", "s4"), (0.5, "lower", "sb"),
    (1.2, "higher", "sb"), (0.09, "higher", "s4")])
def test_the_shade_follows_how_much_worse_than_native_in_the_metrics_direction(ratio: float, better: str,
                                                                            shade: str) -> None:
    assert scorecard.cost_shade(ratio, better) == shade


def test_the_first_screen_holds_the_scorecard_the_findings_and_few_warning_lines(tmp_path: Path) -> None:
    from tests.browser import open_page

    path = write_run(tmp_path, "screen", default_like_values(), failed=1)
    run = RunDir.open(path)
    info = run.info()
    info.suite = replace(info.suite, platforms=DEFAULT_LIKE, precision=Precision(max_repetitions=5))
    info.precision = {f"{p}/cpu": PrecisionStop(p, "cpu", "score", 5, 0.08, 0.03, True, False, "cap")
                      for p in DEFAULT_LIKE[1:]}
    run.write_info(info)
    assert main(["-q", "report", str(path), "-o", str(tmp_path / "r.html")]) == 0
    seen = open_page(tmp_path / "r.html", ("scorecard", "findings", "verdict"), tmp_path / "first-screen.png")
    layout = seen.layout
    assert seen.visible == {"scorecard": True, "findings": True, "verdict": True}
    assert layout["scorecard"] < 900 and len(layout["findings"]) == 7 and max(layout["findings"]) < 900, layout
    assert 0 < layout["warning_lines"] <= 6, layout
    assert seen.opened
    assert seen.requests == [] and seen.console_errors == [] and seen.page_errors == []


def test_the_shades_darken_with_the_cost_so_they_read_in_greyscale() -> None:
    """The scorecard's shades as the template declares them: relative luminance (WCAG) falls
    from native's and s0 to s4, each step by a margin a greyscale print keeps apart."""
    css = (Path(scorecard.__file__).parent / "templates" / "report.html.j2").read_text()

    def luminance(shade: str) -> float:
        (hex_colour,) = re.findall(rf"\.{shade} {{ background: #([0-9a-f]{{6}});", css)
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    ramp = [luminance(s) for s in ("s0", "s1", "s2", "s3", "s4")]
    assert all(a - b > 0.05 for a, b in zip(ramp, ramp[1:])), ramp
    assert "print-color-adjust: exact" in css  # the shades are printed, not dropped
