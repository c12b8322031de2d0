"""The HTML report from synthetic runs: structure, sections, escaping, determinism."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.model import units
from bench.model.trial import PlannedTrial
from bench.report import caveats
from bench.rundir import runs
from bench.rundir.results import RunDir
from tests.unit.synthetic_runs import baseline_values, scaled, write_run

SECTIONS = ("scorecard", "findings", "warnings", "verdict", "charts", "consolidation", "provenance", "raw")
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "embed", "source", "track", "wbr"}


class Tree(HTMLParser):
    """A real HTML parse that also checks every element is closed where it was opened."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_startendtag(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"] or "")
        for name in ("href", "src", "xlink:href"):
            if found.get(name):
                self.links.append(found[name] or "")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Tree:
    tree = Tree()
    tree.feed(path.read_text())
    tree.close()
    assert tree.errors == [] and tree.stack == [], (tree.errors, tree.stack)
    return tree


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path, "one", baseline_values(), failed=1)


def report(args: list[str]) -> None:
    assert main(["-q", "report", *args]) == 0


def test_every_section_renders_and_parses(run_dir: Path) -> None:
    report([str(run_dir)])
    tree = parse(run_dir / "index.html")
    assert set(SECTIONS) <= tree.ids
    text = " ".join(tree.text)
    assert "VMs ran under TCG emulation, not KVM" in text
    assert "The host is itself virtualised" in text
    assert "1 of 46 trials did not succeed" in text
    assert "vm-minimal/tcg" in text and "vm-minimal/tcg ÷ docker" in text
    assert "Boot time (boot)" in text and "CPU throughput (cpu)" in text and "its own (6.1.0-cloud, tcg)" in text
    assert tree.tags.count("svg") >= 5
    # Nothing is fetched: every link is in the page (and found there) or a raw file beside it.
    inside = {link[1:] for link in tree.links if link.startswith("#")}
    assert inside <= tree.ids
    assert [link for link in tree.links if not link.startswith("#")] == ["trials.jsonl"]  # no summary.csv here
    assert "<script" not in (run_dir / "index.html").read_text()


def test_rendering_is_deterministic(run_dir: Path, tmp_path: Path) -> None:
    report([str(run_dir), "-o", str(tmp_path / "a.html")])
    report([str(run_dir), "-o", str(tmp_path / "b.html")])
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def test_a_label_with_script_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    run_dir = write_run(tmp_path, "evil", baseline_values(), label=evil)
    report([str(run_dir)])
    html = (run_dir / "index.html").read_text()
    tree = parse(run_dir / "index.html")
    assert "script" not in tree.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert evil in " ".join(tree.text)  # shown as text, not run


def test_single_file_embeds_the_raw_data(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "copy.html"
    out.parent.mkdir()
    report([str(run_dir), "--single-file", "-o", str(out)])
    tree = parse(out)
    embedded = [link for link in tree.links if link.startswith("data:")]
    assert len(embedded) == 1  # trials.jsonl (this synthetic run has no summary.csv)
    assert base64.b64decode(embedded[0].split(",", 1)[1]) == (run_dir / "trials.jsonl").read_bytes()


def test_links_point_to_the_run_directory_from_elsewhere(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pub" / "r.html"
    out.parent.mkdir()
    report([str(run_dir), "-o", str(out)])
    assert "../one/trials.jsonl" in parse(out).links


def test_two_runs_render_side_by_side(tmp_path: Path) -> None:
    before = write_run(tmp_path, "before", baseline_values())
    after = write_run(tmp_path, "after", scaled(baseline_values(), ("boot", "vm", "boot_s"), 0.5))
    out = tmp_path / "both.html"
    report([str(before), str(after), "-o", str(out)])
    tree = parse(out)
    text = " ".join(tree.text)
    assert text.count("before") >= 5 and text.count("after") >= 5
    html = out.read_text()
    assert html.count('colspan="4"') >= 2  # each run's verdict columns under its own header


def test_consolidation_counts_instances_for_a_given_host(run_dir: Path) -> None:
    report([str(run_dir), "--host-memory", "64GiB", "--host-disk", "1TiB"])
    text = " ".join(parse(run_dir / "index.html").text)
    # 64 GiB / 222 MiB = 295 idle VMs; / 13.8 MiB = 4748 containers.
    assert "295" in text and "4,748" in text
    assert "the host you gave" in text


@pytest.mark.parametrize("text, expected", [("64GiB", 64 * 2**30), ("1.5T", int(1.5 * 2**40)), ("512MiB", 2**29)])
def test_sizes(text: str, expected: int) -> None:
    assert units.parse_size(text) == expected


@pytest.mark.parametrize("args, message", [
    (["--host-memory", "lots"], "not a size"),
    (["--host-disk", "0G"], "not a positive size"),
])
def test_bad_sizes_exit_2(run_dir: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (run_dir / "index.html").exists()


def test_a_directory_that_is_not_a_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a run directory" in err and len(err.strip().splitlines()) == 1


def test_intervals_from_too_few_trials_are_called_narrow(tmp_path: Path) -> None:
    few = caveats.caveats(runs.load(write_run(tmp_path, "three", baseline_values(3))))
    (note,) = [c for c in few if "too few for 95% whatever the data" in c.text]
    assert "at least 75.0% at n=3 of the time" in note.text
    enough = caveats.caveats(runs.load(write_run(tmp_path, "seven", baseline_values(7))))
    assert not [c for c in enough if "too few for 95%" in c.text]


def noisy_values() -> dict:
    values = baseline_values()
    values[("boot", "docker", "boot_s")] = [0.3, 0.4, 0.25, 0.35, 0.5]  # a headline metric, CV ~25%
    values[("boot", "docker", "boot_phase.created_s")] = [0.02, 0.03, 0.01, 0.025, 0.04]  # a secondary one
    # 2 µs around 5 µs: a CV of 30%, but at the clock's resolution (1 µs), not noise.
    values[("boot", "native", "boot_phase.ready_s")] = [0.000005, 0.000006, 0.000004, 0.000005, 0.000006]
    return values


def test_noise_warnings_are_for_headline_metrics_and_the_rest_is_folded(tmp_path: Path) -> None:
    found = caveats.caveats(runs.load(write_run(tmp_path, "noisy", noisy_values())))
    (headline,) = [c for c in found if c.level == "note" and "headline metric" in c.text]
    assert len(headline.items) == 1 and headline.items[0].startswith("boot boot_s on docker: CV ")
    assert "ms" in headline.items[0] and "e-0" not in headline.items[0]
    (minor,) = [c for c in found if c.level == "minor" and "vary by more than" in c.text]
    assert [item.split(":")[0] for item in minor.items] == ["boot boot_phase.created_s on docker"]
    assert headline.headline == "1 headline metric(s) vary by more than 5% between trials (CV up to 27%)."


def test_the_report_reads_in_human_units_with_zero_based_axes(tmp_path: Path) -> None:
    values = noisy_values()
    del values[("idle", "vm", "image_mib")], values[("idle", "vm", "mem_pss_mean_mib")]
    values[("boot", "vm-os", "boot_s")] = [9.0, 9.1, 8.9, 9.05, 8.95]
    run_dir = write_run(tmp_path, "human", values)
    report([str(run_dir)])
    html = (run_dir / "index.html").read_text()
    tree = parse(run_dir / "index.html")
    text = " ".join(tree.text)
    assert not re.search(r"\d\.\d+e[+-]?\d", text), re.search(r".{40}\d\.\d+e[+-]?\d.{20}", text)
    assert "350 ms" in text and "5.50 s" in text  # boot times in their own scale
    # The image chart's axis starts at zero: its lowest tick is 0 on the axis line.
    image_chart = re.search(r'<svg[^>]*aria-label="idle: image_mib".*?</svg>', html).group(0)
    assert re.search(r'>0</text>', image_chart)
    # vm-os ran no idle trial: the memory chart leaves it out and says so.
    assert "Left out: vm-os" in text
    assert "details" in tree.tags and "other metric(s) vary by more than 5%" in text


def test_disk_figures_through_gvisors_cache_are_flagged(tmp_path: Path) -> None:
    """Seen on this host: gVisor's direct-I/O IOPS 2.8x native's, from its own cache."""
    values = {("disk", "native", "randread_iops"): [17000.0] * 3, ("disk", "gvisor", "randread_iops"): [48000.0] * 3,
              ("cpu", "gvisor", "score"): [4300.0] * 3}
    found = caveats.caveats(runs.load(write_run(tmp_path, "gv", values)))
    (flag,) = [c for c in found if "gVisor's Sentry" in c.text]
    assert flag.level == "severe" and flag.text.startswith("Disk figures on gvisor come through gVisor's Sentry")
    plain = caveats.caveats(runs.load(write_run(tmp_path, "plain", {("disk", "native", "randread_iops"): [1.0] * 3})))
    assert not [c for c in plain if "gVisor's Sentry" in c.text]



def test_a_container_in_a_vm_gets_its_cost_over_the_container_and_over_the_vm(tmp_path: Path) -> None:
    values = baseline_values()
    for (workload, platform, metric), trials in list(values.items()):
        if platform == "vm":  # the engine inside adds 3 s to the boot and 1.5x to the memory
            extra = {"boot_s": 3.0}.get(metric, 0.0)
            factor = {"mem_pss_mean_mib": 1.5}.get(metric, 1.0)
            values[(workload, "vm-docker", metric)] = [v * factor + extra for v in trials]
    run_dir = write_run(tmp_path, "stack", values)
    report([str(run_dir)])
    html = (run_dir / "index.html").read_text()
    header = re.search(r"<tr><th>What</th>(.*?)</tr>", html).group(1)
    assert re.findall(r"<th>(.*?)</th>", header) == [
        "native", "docker", "vm-minimal/tcg", "vm-docker/tcg",
        "vm-minimal/tcg ÷ docker", "vm-docker/tcg ÷ docker", "vm-docker/tcg ÷ vm-minimal/tcg"]
    boot = re.search(r"<tr><th>Boot time \(boot\)</th>(.*?)</tr>", html).group(1)
    mains = [re.sub(r"<span.*", "", cell) for cell in re.findall(r"<td>(.*?)</td>", boot)]
    # docker 0.3 s, vm 5.5 s, vm-docker 8.5 s: 18.3x, 28.3x and 1.55x.
    assert mains[-3:] == ["18.3×", "28.3×", "1.55×"], mains
    memory = re.search(r"<tr><th>Memory: one idle instance \(PSS\) \(idle\)</th>(.*?)</tr>", html).group(1)
    assert re.sub(r"<span.*", "", re.findall(r"<td>(.*?)</td>", memory)[-1]) == "1.5×"


def test_a_probe_measured_once_per_platform_by_design_is_not_called_short(tmp_path: Path) -> None:
    values = {**baseline_values(5), ("exposure", "docker", "boot_s"): [0.3], ("exposure", "native", "boot_s"): [0.03],
              ("cpu", "gvisor", "score"): [3000.0]}
    loaded = runs.load(write_run(tmp_path, "once", values))
    loaded.info.suite = replace(loaded.info.suite, repetitions=5)
    loaded.info.plan = [PlannedTrial(1, 2, False, p, "exposure") for p in ("docker", "native")] + [
        PlannedTrial(i, i, False, "gvisor", "cpu") for i in range(5)]
    (short,) = [c for c in caveats.caveats(loaded) if "rest on fewer than 3 trials" in c.text]
    assert short.items == ("cpu score on gvisor (n=1)",)  # planned 5 times, measured once: a shortfall


@pytest.mark.parametrize(("severe", "notes", "minor", "shown", "folded"), [
    (2, 3, 2, 5, 2), (3, 3, 2, 5, 3), (2, 4, 0, 6, 0), (2, 5, 0, 5, 2), (7, 1, 1, 7, 2), (0, 0, 0, 0, 0)])
def test_the_warnings_take_at_most_six_lines_and_a_severe_one_is_never_folded(
        severe: int, notes: int, minor: int, shown: int, folded: int) -> None:
    found = ([caveats.Caveat("severe", f"s{i}") for i in range(severe)] + [caveats.Caveat("note", f"n{i}") for i in range(notes)]
             + [caveats.Caveat("minor", f"m{i}") for i in range(minor)])
    arranged = caveats.arrange(found)
    assert (len(arranged.shown), len(arranged.folded)) == (shown, folded)
    assert len(arranged.shown) + (1 if arranged.folded else 0) <= max(6, severe + 1)
    assert all(c.level == "severe" for c in arranged.shown[:severe])
    assert [c.text for c in arranged.folded if c.level == "note"] == [f"n{i}" for i in range(notes)][len(arranged.shown) - severe:]


def test_disturbed_trials_and_the_noise_floor_are_in_the_warnings(tmp_path: Path) -> None:
    floor = {"cv": 0.02, "repetitions": 10, "seconds_each": 0.1, "cpus": "1", "how": "a loop"}
    path = write_run(tmp_path, "dist", baseline_values(3), extra_info={"noise_floor": floor,
                                                                      "host_profile": {"name": "lab-epyc"}})
    run_dir = RunDir.open(path)
    records = run_dir.records()
    hit = records[1]
    hit.disturbed, hit.facts["disturbance"] = True, "42.0 % of CPU 1's time over 2.00 s went to other processes"
    (path / "trials.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in records))
    loaded = runs.load(path)
    (disturbed,) = [c for c in caveats.caveats(loaded) if "disturbed" in c.text]
    assert disturbed.level == "severe" and "kept in the statistics (no [precision] to repeat them)" in disturbed.text
    assert disturbed.items == (f"{hit.platform} {hit.workload}, trial {hit.seq}: {hit.facts['disturbance']}",)
    (floor_note,) = [c for c in caveats.caveats(loaded) if c.text.startswith("Noise floor")]
    assert "CV 2.0% on CPU 1" in floor_note.text and "differences below about 2.5% cannot show" in floor_note.text
    assert loaded.info.host_name == "lab-epyc"
