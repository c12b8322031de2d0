"""The report's Warnings section: everything a reader must know before trusting a number."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from bench.analysis import stats
from bench.analysis.noisefloor import precision_warnings
from bench.analysis.summary import Summary, SummaryRow
from bench.model import units
from bench.model.registry import label
from bench.model.series import at_dimensions
from bench.probes.disturbance import DISTURBED_PCT
from bench.rundir.runs import LoadedRun

CV_LIMIT = 0.05
DISK_UNITS = ("IOPS", "MiB/s")
MIN_TRIALS = 3


# The metrics verdicts rest on: only their noise is a warning; the rest goes in a folded list.
VERDICT_METRICS = ("score", "boot_s", "mem_pss_mean_mib", "mem_pss_settled_mib", "density_mem_mib", "image_mib")
# The finest step a metric's readings can differ by: a spread below it is the clock's, not noise.
RESOLUTION = {"s": 1e-6, "µs": 1e-3}
COARSE_CPU_RESOLUTION_S = 0.01  # host_cpu_s read in clock ticks (probes/cpu.py, without a cgroup)


@dataclass(frozen=True)
class Caveat:
    level: str  # "severe" (the numbers mean something else than they seem), "note", or "minor" (folded)
    text: str
    items: tuple[str, ...] = ()  # a list shown under the text
    short: str = ""  # the line the report shows, its text and items folded under it; "": the text

    @property
    def headline(self) -> str:
        return self.short or self.text


WARNING_LINES = 6  # the report's Warnings before its verdict table: a line each


@dataclass(frozen=True)
class Arranged:
    shown: tuple[Caveat, ...]  # a line each: every severe one, then notes while lines remain
    folded: tuple[Caveat, ...]  # one more line: the minor ones and any note that did not fit


def arrange(found: list[Caveat]) -> Arranged:
    severe = [c for c in found if c.level == "severe"]
    notes = [c for c in found if c.level == "note"]
    rest = [c for c in found if c.level not in ("severe", "note")]
    room = max(WARNING_LINES - len(severe) - (1 if rest or notes else 0), 0)
    if len(notes) <= room + (0 if rest else 1):  # the last line can hold a note when nothing is folded
        room = len(notes)
    return Arranged(tuple(severe + notes[:room]), tuple(notes[room:] + rest))


def caveats(run: LoadedRun) -> list[Caveat]:
    found = []
    if "tcg" in run.vm_accels:
        verdict = run.info.accelerator_verdict or {}
        found.append(Caveat("severe", "VMs ran under TCG emulation, not KVM: every …/tcg number (vm-minimal, vm-os) measures "
                            "an emulated CPU and is not what a VM costs on a host with working KVM.",
                            (f"Accelerator check: {verdict['summary']}.",) if verdict.get("summary") else (),
                            "VMs under TCG, an emulator: no …/tcg figure is what a VM costs with KVM."))
    host = run.info.host
    if host.virtualised:
        found.append(Caveat("severe", f"The host is itself virtualised (hypervisor: {host.hypervisor}): "
                            "its CPU time is shared with other guests, so run-to-run noise is higher than "
                            "on bare metal and 'native' is not bare metal.",
                            short=f"The host is itself a VM ({host.hypervisor}): more noise, and native is not bare metal."))
    seconds = run.suite.seconds
    if seconds is not None:
        shortened = sorted({r.workload for r in run.counted if "seconds" in r.facts})
        if shortened and run.suite.precision:  # the widths show what noise it added
            found.append(Caveat("note", f"The suite measured {', '.join(shortened)} for {seconds} s a trial instead "
                                "of each workload's own duration: more, shorter trials, whose spread the precision "
                                "rule's intervals carry.", short=f"Trials cut to {seconds} s ({_workloads(shortened)})."))
        elif shortened:
            found.append(Caveat("severe", f"The suite cut the measured duration of {', '.join(shortened)} to "
                                f"{seconds} s: a quick run, whose figures are noisier than each workload's own "
                                "duration gives and may not match a full run's.",
                                short=f"A quick run: {_workloads(shortened)} cut to {seconds} s a trial, noisier "
                                "than a full run."))
    bad = [r for r in run.records if not r.ok]
    if bad:
        kinds = sorted({f"{r.platform} {r.workload}: {r.status} ({r.reason.splitlines()[0][:80]})" for r in bad})
        found.append(Caveat("severe", f"{len(bad)} of {len(run.records)} trials did not succeed:", tuple(kinds),
                            f"{len(bad)} of {len(run.records)} trials did not succeed ("
                            + ", ".join(sorted({f'{r.platform} {r.workload}' for r in bad})[:3])
                            + (", …" if len({(r.platform, r.workload) for r in bad}) > 3 else "") + ")."))
    found += _disturbed(run)
    found += _noise_floor(run)
    cached = sorted({label(r.platform, r.accel) for r in run.counted
                     if "do not pass O_DIRECT on to the host" in r.facts.get("storage", "")
                     and any(s.unit in DISK_UNITS for s in r.samples)})
    if cached:
        found.append(Caveat("severe", f"Disk figures on {', '.join(cached)} come through gVisor's Sentry, which serves "
                            "file I/O from its own cache and does not pass O_DIRECT on to the host: they measure "
                            "that cache, not the device, and may exceed native's.",
                            short=f"Disk figures on {', '.join(cached)} measure gVisor's cache, not the device."))
    table = run.summary
    if not table.empty:
        found += _noise(run, table)
        single = _measured_once(run)
        few = [r for r in table if r.n < MIN_TRIALS and r.workload not in single]
        for level, chosen in (("severe", [r for r in few if _headline(r)]),
                              ("minor", [r for r in few if not _headline(r)])):
            if chosen:  # a start phase seen in only some trials is a detail; a headline figure is not
                found.append(Caveat(level, f"{len(chosen)} metric(s) rest on fewer than {MIN_TRIALS} trials:",
                                    tuple(f"{r.key.name} (n={r.n})" for r in chosen),
                                    f"{len(chosen)} {'headline ' if level == 'severe' else ''}metric(s) rest on "
                                    f"fewer than {MIN_TRIALS} trials."))
        found += _narrow_intervals(table)
    found += _precision(run)
    if not run.counted:
        found.append(Caveat("severe", "No successful measured trial: there is nothing to report."))
    return found


def _noise_floor(run: LoadedRun) -> list[Caveat]:
    """What the host's noise before the first trial lets this run resolve."""
    floor = run.info.noise_floor
    if floor is None:
        return []
    n = run.suite.repetitions
    text = (f"Noise floor before the first trial: a fixed CPU loop varied by CV {floor.cv:.1%} on CPU {floor.cpus} "
            f"({floor.how}); with {n} trials a cell, differences below about {floor.resolvable(n):.1%} "
            "cannot show here.")
    tight = precision_warnings(run.suite.precision, floor)
    if floor.foreign_pct is not None and floor.foreign_pct >= DISTURBED_PCT:
        return [Caveat("severe", text + f" Other processes took {floor.foreign_pct:.0f} % of those CPUs during the "
                       "calibration: the host was busy (a steady neighbour slows every repetition alike, so the CV "
                       "does not show it).", tuple(tight),
                       f"The host was busy before the first trial: other processes took {floor.foreign_pct:.0f} % "
                       f"of CPU {floor.cpus}.")]
    return [Caveat("note" if tight else "minor", text, tuple(tight),
                   f"Noise floor: CV {floor.cv:.1%}; differences below about {floor.resolvable(n):.1%} cannot show"
                   + (f"; {len(tight)} [precision] target(s) tighter than it." if tight else "."))]


def _disturbed(run: LoadedRun) -> list[Caveat]:
    """Trials on whose CPUs other processes took a share of the time: named, and said whether
    the statistics kept them or the precision rule set them aside and ran another."""
    measured = [r for r in run.records if r.ok and not r.warmup]
    hit = [r for r in measured if r.disturbed]
    if not hit:
        return []
    set_aside = sum(1 for r in hit if r.excluded)
    fate = (f"{set_aside} set aside and repeated by the precision rule" if set_aside == len(hit) else
            f"{set_aside} set aside, {len(hit) - set_aside} kept in the statistics" if set_aside else
            "kept in the statistics (no [precision] to repeat them)")
    cells = sorted({f"{label(r.platform, r.accel)} {r.workload}" for r in hit})
    return [Caveat("note" if set_aside == len(hit) else "severe",
                   f"{len(hit)} of {len(measured)} measured trials were disturbed: other processes took at least "
                   f"{DISTURBED_PCT:g} % of their CPUs' time ({fate}):",
                   tuple(f"{label(r.platform, r.accel)} {r.workload}, trial {r.seq}: {r.facts.get('disturbance', '')}"
                         for r in hit),
                   f"{len(hit)} of {len(measured)} trials disturbed by other processes on their CPUs ({fate}; "
                   + ", ".join(cells[:3]) + (", …" if len(cells) > 3 else "") + ").")]


def _workloads(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{len(names)} workloads"


def _headline(row: SummaryRow) -> bool:
    """A figure a verdict rests on: one of VERDICT_METRICS as measured plain (not beside a stress)."""
    return row.metric in VERDICT_METRICS and not row.dimensions


def _coarse_cpu(run: LoadedRun) -> bool:
    """Whether some host_cpu_s was read in clock ticks (an instance without a cgroup of its own)."""
    return any(s.metric == "host_cpu_s" and "clock ticks" in str(s.metadata.get("probe", ""))
               for r in run.counted for s in r.samples)


def _noise(run: LoadedRun, table: Summary) -> list[Caveat]:
    """Metrics whose trials vary by more than CV_LIMIT: the ones a verdict rests on as a
    warning, widest interval first (the likeliest to flip a comparison); the rest folded."""
    verdict, rest = [], []
    coarse_cpu = _coarse_cpu(run)
    for r in table:
        resolution = COARSE_CPU_RESOLUTION_S if r.metric == "host_cpu_s" and coarse_cpu else RESOLUTION.get(r.unit, 0.0)
        if math.isnan(r.cv) or r.cv <= CV_LIMIT or r.iqr <= resolution:
            continue
        width = (r.ci_high - r.ci_low) / abs(r.median) if r.median else math.inf
        text = (f"{r.key.name}: CV {r.cv:.0%}, "
                f"95% CI {units.interval(r.ci_low, r.ci_high, r.unit, r.median)} around {units.human(r.median, r.unit)}")
        (verdict if _headline(r) else rest).append((width, text, r.cv))
    found = []
    if verdict:
        verdict.sort(key=lambda pair: -pair[0])
        top = max(cv for _, _, cv in verdict)
        found.append(Caveat("note", f"{len(verdict)} headline metric(s) vary by more than {CV_LIMIT:.0%} between "
                            "trials, widest interval first; a comparison whose intervals overlap is not settled:",
                            tuple(text for _, text, _ in verdict),
                            f"{len(verdict)} headline metric(s) vary by more than {CV_LIMIT:.0%} between trials "
                            f"(CV up to {top:.0%})."))
    if rest:
        found.append(Caveat("minor", f"{len(rest)} other metric(s) vary by more than {CV_LIMIT:.0%} "
                            "(start phases, teardown, secondary figures):", tuple(text for _, text, _ in sorted(rest))))
    return found


def _measured_once(run: LoadedRun) -> set[str]:
    """Workloads the plan measures once per platform by design (the exposure probe), in a suite
    that repeats the others: their one trial is not a shortfall."""
    if run.suite.repetitions <= 1:
        return set()
    counts = Counter((t.platform, t.workload) for t in run.info.plan if not t.warmup)
    repeated = {workload for (_, workload), n in counts.items() if n > 1}
    return {workload for _, workload in counts} - repeated


def _narrow_intervals(table: Summary) -> list[Caveat]:
    """Intervals from fewer trials than any distribution-free 95% interval of a median needs."""
    sizes = sorted({r.n for r in table if MIN_TRIALS <= r.n < stats.DISTRIBUTION_FREE_N})
    if not sizes:
        return []
    bounds = ", ".join(f"{stats.distribution_free_coverage(n):.1%} at n={n}" for n in sizes)
    return [Caveat("minor", f"Some intervals rest on fewer than {stats.DISTRIBUTION_FREE_N} trials, too few "
                   f"for {stats.CONFIDENCE:.0%} whatever the data: there they also rest on the trials being "
                   "near-lognormal (a t interval on their logarithms), and for data of any other shape they "
                   f"hold the true median at least {bounds} of the time.",
                   short=f"Intervals from fewer than {stats.DISTRIBUTION_FREE_N} trials assume near-lognormal data.")]


def _precision(run: LoadedRun) -> list[Caveat]:
    """Under the precision rule: each cell's repetitions and why it stopped."""
    cells, rule = run.info.precision, run.suite.precision
    if not cells or not rule:
        return []
    items, capped, widths = [], 0, []
    for cell, s in cells.items():
        platform, workload = cell.split("/", 1)
        where = f"{label(platform, '+'.join(sorted(run.vm_accels)))} {workload}: n={s.n}"
        if s.stopped == "no width":
            items.append(f"{where}, its figure has no width to narrow (the minimum)")
            continue
        width = ("below resolution" if s.below_resolution else
                 "no interval" if s.half_width is None else f"±{s.half_width:.1%}")
        against = " of the ratio to native" if s.against_native else ""
        shown = at_dimensions(s.metric, s.dimensions)
        if s.stopped == "precise":
            items.append(f"{where}, precise: {shown} {width}{against} ≤ {s.target:.0%}")
        else:
            capped += 1
            widths += [s.half_width] if s.half_width is not None and not s.below_resolution else []
            items.append(f"{where}, the cap: {shown} {width}{against}, not ±{s.target:.0%}")
    minimum = run.suite.repetitions
    text = (f"Repetitions followed the precision rule: at least {minimum} per cell, more only while the 95% "
            f"interval of its headline figure was wider than the target, at most {rule.max_repetitions}. "
            f"{len(items) - capped} of {len(items)} cells stopped on their own, {capped} at the cap:")
    ends = dict.fromkeys(f"±{w:.0%}" for w in (min(widths), max(widths))) if widths else {}
    spread = f" (widths {'–'.join(ends)})" if ends else ""
    short = (f"{capped} of {len(items)} cells stopped at the repetition cap of {rule.max_repetitions}{spread}."
             if capped else f"All {len(items)} cells reached the precision rule's target.")
    return [Caveat("note", text, tuple(items), short)]

