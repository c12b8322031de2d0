"""The report's Warnings section: everything a reader must know before trusting a number."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bench import stats
from bench.report.runs import LoadedRun
from bench.summary import HEADLINE

CV_LIMIT = 0.05
MIN_TRIALS = 3


@dataclass(frozen=True)
class Caveat:
    level: str  # "severe" (the numbers mean something else than they seem) or "note"
    text: str


def _metric_list(rows: list[str]) -> str:
    shown = ", ".join(rows[:12])
    return shown + (f" and {len(rows) - 12} more" if len(rows) > 12 else "")


def caveats(run: LoadedRun) -> list[Caveat]:
    found = []
    if "tcg" in run.vm_accels:
        found.append(Caveat("severe", "VMs ran under TCG emulation, not KVM: every …/tcg number (vm-minimal, vm-os) measures "
                            "an emulated CPU and is not what a VM costs on a host with working KVM."))
    verdict = run.info.get("accelerator_verdict") or {}
    if "tcg" in run.vm_accels and verdict.get("summary"):
        found.append(Caveat("note", f"Accelerator check: {verdict['summary']}."))
    host = run.info.get("host", {})
    if host.get("virtualised"):
        found.append(Caveat("severe", f"The host is itself virtualised (hypervisor: {host.get('hypervisor', '?')}): "
                            "its CPU time is shared with other guests, so run-to-run noise is higher than "
                            "on bare metal and 'native' is not bare metal."))
    bad = [r for r in run.records if not r.ok]
    if bad:
        kinds = sorted({f"{r.platform} {r.workload}: {r.status} ({r.reason.splitlines()[0][:80]})" for r in bad})
        found.append(Caveat("severe", f"{len(bad)} of {len(run.records)} trials did not succeed: "
                            + "; ".join(kinds[:6]) + (" …" if len(kinds) > 6 else "")))
    table = run.summary
    if not table.empty:
        # Headline metrics first: a reader cares about boot_s before boot_phase.resumed_s.
        rows = sorted(table.itertuples(), key=lambda r: r.metric not in HEADLINE)
        noisy = [f"{r.workload} {r.metric} on {r.platform} ({r.cv * 100:.0f}%)" for r in rows
                 if not math.isnan(r.cv) and r.cv > CV_LIMIT]
        if noisy:
            found.append(Caveat("note", f"{len(noisy)} metric(s) vary by more than {CV_LIMIT:.0%} "
                                f"(coefficient of variation): {_metric_list(noisy)}. Read their medians "
                                "with the confidence intervals."))
        few = [f"{r.workload} {r.metric} on {r.platform} (n={r.n})" for r in table.itertuples()
               if r.n < MIN_TRIALS]
        if few:
            found.append(Caveat("severe", f"{len(few)} metric(s) rest on fewer than {MIN_TRIALS} trials: "
                                f"{_metric_list(few)}."))
        found += _narrow_intervals(table)
    found += _adaptive(run)
    if not run.counted:
        found.append(Caveat("severe", "No successful measured trial: there is nothing to report."))
    return found


def _narrow_intervals(table: pd.DataFrame) -> list[Caveat]:
    """Intervals from too few trials to hold their stated confidence, whatever the data."""
    sizes = sorted({int(n) for n in table["n"]
                    if n >= MIN_TRIALS and stats.median_ci_coverage_bound(n) < stats.CONFIDENCE})
    if not sizes:
        return []
    bounds = ", ".join(f"{stats.median_ci_coverage_bound(n):.0%} of the time at n={n}" for n in sizes)
    return [Caveat("note", f"Some confidence intervals rest on too few trials for {stats.CONFIDENCE:.0%}: "
                   "a bootstrap interval of a median never reaches past the smallest and largest trial, "
                   f"and those hold the true median only {bounds}. Read these intervals as narrower than "
                   "stated, or run more repetitions.")]


def _adaptive(run: LoadedRun) -> list[Caveat]:
    """What adaptive repetitions added, and where the cap stopped them."""
    added: dict[tuple[str, str], list[str]] = {}
    for trial in run.info.get("plan", []):
        if trial.get("added"):
            added.setdefault((trial["platform"], trial["workload"]), []).append(trial["added"])
    if not added:
        return []
    parts = [f"{platform} {workload} +{len(reasons)} (first: {reasons[0]}; last: {reasons[-1]})"
             for (platform, workload), reasons in sorted(added.items())]
    text = (f"Adaptive repetitions added {sum(map(len, added.values()))} trial(s) where the headline "
            f"metric varied more than the suite allows: " + "; ".join(parts) + ".")
    adaptive = run.info["suite"].get("adaptive") or {}
    cap, limit = adaptive.get("max_repetitions"), adaptive.get("cv", 0.0)
    capped = []
    for (platform, workload), reasons in sorted(added.items()):
        planned = sum(1 for t in run.info["plan"] if (t["platform"], t["workload"]) == (platform, workload)
                      and not t["warmup"])
        metric = reasons[-1].split()[0]  # the reason reads "<metric> CV x% > y%"
        row = run.row(workload, metric, platform)
        if cap and planned >= cap and row is not None and row["cv"] > limit:
            capped.append(f"{platform} {workload} ({metric} CV {row['cv']:.1%})")
    if capped:
        text += f" Stopped at the cap of {cap} repetitions, still above the limit: {', '.join(capped)}."
    return [Caveat("note", text)]
