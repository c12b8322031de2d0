"""Render loaded runs into one self-contained HTML file (jinja2, autoescaped)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis import stats, summary
from bench.model import units
from bench.model.dimensions import PATH
from bench.model.sample import without_dimension
from bench.model.series import at_dimensions
from bench.report import (applications, boot_phases, caveats, charts, consolidation, findings, neighbours,
                          portability, scenario, scorecard, verdict)
from bench.report.jinja import environment
from bench.rundir.results import SUMMARY, TRIALS
from bench.rundir.runs import LoadedRun

RAW_FILES = (SUMMARY, TRIALS)


@dataclass(frozen=True)
class Options:
    single_file: bool = False
    host: consolidation.HostSize | None = None
    scenarios: tuple[scenario.Scenario, ...] | None = None  # None: the shipped examples


def _link(run: LoadedRun, name: str, output: Path, single_file: bool) -> str | None:
    file = run.path / name
    if not file.is_file():
        return None
    if single_file:
        kind = "text/csv" if name.endswith(".csv") else "application/x-ndjson"
        return f"data:{kind};base64,{base64.b64encode(file.read_bytes()).decode()}"
    return os.path.relpath(file.resolve(), output.resolve().parent)


def _charts(runs: list[LoadedRun]) -> dict[str, Any]:
    keys: dict[tuple[str, str, str, str], None] = {}
    for run in runs:
        for row in run.summary:
            keys[(row.workload, row.metric, without_dimension(row.dimensions, PATH), row.unit)] = None  # paths: one chart
    headline, rest = [], []
    for workload, metric, dimensions, unit in keys:
        chart = {"title": f"{workload}: {at_dimensions(metric, dimensions)}",
                 "svg": charts.metric_chart(runs, workload, metric, unit, dimensions)}
        (headline if metric in summary.HEADLINE and not dimensions else rest).append(chart)
    workloads = list(dict.fromkeys(w for w, _, _, _ in keys))
    boot_workload = "boot" if "boot" in workloads else (workloads[0] if workloads else None)
    memory_workload = "idle" if "idle" in workloads else boot_workload
    memory, memory_left_out = charts.memory_chart(runs, memory_workload) if memory_workload else (None, [])
    return {
        "headline": headline, "rest": rest,
        "boot": charts.boot_breakdown_chart(runs, boot_workload) if boot_workload else None,
        "vm_phases": charts.vm_phases_chart(runs, boot_workload) if boot_workload else None,
        "published_boots": boot_phases.PUBLISHED,
        "boot_workload": boot_workload,
        "memory": memory, "memory_left_out": memory_left_out,
        "memory_workload": memory_workload,
    }


def _verdict_table(runs: list[LoadedRun]) -> dict[str, Any]:
    """One table, each run's columns side by side, rows matched by label."""
    verdicts = [verdict.verdict(run) for run in runs]
    labels: dict[tuple[str, str], None] = {}
    for v in verdicts:
        labels.update(dict.fromkeys((row.section, row.label) for row in v.rows))
    rows = []
    for section, label in labels:
        cells = []
        for v in verdicts:
            match = next((row for row in v.rows if (row.section, row.label) == (section, label)), None)
            cells += list(match.cells) if match else [verdict.Cell("")] * len(v.columns)
        rows.append({"section": section, "label": label, "cells": cells})
    return {"verdicts": verdicts, "rows": rows}


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for key in value for pair in _flat(f"{prefix}.{key}" if prefix else str(key), value[key])]
    if isinstance(value, list):
        return [(prefix, ", ".join(str(v) for v in value))]
    if prefix.endswith("bytes") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return [(prefix, units.bytes_(value))]
    if isinstance(value, float):
        return [(prefix, units.significant(value))]
    return [(prefix, "" if value is None else str(value))]


def heading(runs: list[LoadedRun]) -> dict[str, str]:
    """The title and subtitle: host, suite, date, the platforms that ran, how many repetitions
    and the interval method the figures carry."""
    if len(runs) == 1:
        run = runs[0]
        host = run.info.host
        title = f"Isolation cost on {run.info.host_name}: suite {run.suite_name}, {run.info.started_at[:10]}"
        known = [part for part in (host.cpu_model, f"{host.logical_cpus} CPUs" if host.logical_cpus else "",
                                   f"kernel {host.kernel}") if part and "?" not in part]  # an older run's unknowns
        where = f"Run {run.run_id}" + (f" on {', '.join(known)}" if known else "") + ". "
    else:
        title = "Isolation cost: " + ", ".join(run.run_id for run in runs)
        where = "; ".join(f"{run.run_id}: suite {run.suite_name} on {run.info.host.hostname}, "
                          f"{run.info.started_at[:10]}" for run in runs) + ". "
    ran = list(dict.fromkeys(verdict.column_name(p, run) for run in runs for p in verdict.platforms(run)
                             if any(r.platform == p for r in run.counted)))
    counts = [row.n for run in runs for row in run.summary]
    trials = (f"{min(counts)}–{max(counts)}" if min(counts) != max(counts) else f"{counts[0]}") if counts else "no"
    fewest = min(counts, default=stats.DISTRIBUTION_FREE_N)
    method = ("the order-statistic interval of the median joined with a t interval on the logarithms"
              + (f" (which carries it below {stats.DISTRIBUTION_FREE_N} trials)" if fewest < stats.DISTRIBUTION_FREE_N else "")
              + "; a ratio to native joins both sides' intervals on the log scale")
    return {"title": title,
            "subtitle": f"{len(ran)} platforms ran: {', '.join(ran)}. Medians of {trials} trials each "
                        f"({_repetitions(runs[0])}), with 95% intervals: {method}. {where}"
                        "Every figure was measured by the harness from the host."}


def _repetitions(run: LoadedRun) -> str:
    rule = run.suite.precision
    if rule is None:
        return f"{run.suite.repetitions} repetitions after {run.suite.warmup} warm-up"
    return (f"the precision rule: from {run.suite.repetitions} to at most {rule.max_repetitions} repetitions, "
            f"until the interval is within ±{rule.throughput:.0%} for throughput, ±{rule.memory:.0%} for memory, "
            f"±{rule.time:.0%} for time")


def reproduce(run: LoadedRun) -> str:
    """The commands that make this run again, on a host like the one in the provenance."""
    info = run.info
    lines = [f"git checkout {info.harness.commit}", "make setup", ".venv/bin/bench images build",
             ".venv/bin/" + (info.command or "bench run")]
    if info.harness.dirty:
        lines.insert(1, "# the run was made from a checkout with uncommitted changes")
    return "\n".join(lines)


def _provenance(runs: list[LoadedRun]) -> list[dict[str, Any]]:
    """Rows: one per recorded fact, a column per run."""
    per_run = []
    for run in runs:
        info = run.info.as_written()
        pairs = [("run id", run.run_id), ("started at", info["started_at"]),
                 ("command", info["command"]), ("VM accelerator requested", info["accel_requested"])]
        for section in ("harness", "suite", "host", "versions", "images", "storage"):
            pairs += _flat(section, info[section])
        for section in ("host_profile", "noise_floor", "tuned"):  # only where the run had them
            if info.get(section):
                pairs += _flat(section, info[section])
        verdict_ = info["accelerator_verdict"] or {}
        pairs.append(("accelerator verdict", verdict_.get("summary", "not recorded")))
        per_run.append(dict(pairs))
    keys = list(dict.fromkeys(k for facts in per_run for k in facts))
    return [{"key": k, "values": [facts.get(k, "") for facts in per_run]} for k in keys]


def _trial_rows(run: LoadedRun) -> list[dict[str, Any]]:
    def time(value: float | None) -> str:
        return "" if value is None else units.human(value, "s")

    return [{"seq": r.seq, "repetition": r.repetition, "warmup": "warm-up" if r.warmup else "",
             "platform": r.platform, "accel": r.accel, "workload": r.workload,
             "status": r.status + (" · disturbed" if r.disturbed else "") + (" · set aside" if r.excluded else ""),
             "score": r.score_text(), "ready_s": time(r.ready_s), "result_s": time(r.result_s),
             "teardown_s": time(r.teardown_s), "duration_s": time(r.duration_s),
             "reason": r.reason} for r in sorted(run.records, key=lambda r: r.seq)]


def _one_run(run: LoadedRun, output: Path, options: Options) -> dict[str, Any]:
    found = caveats.caveats(run)
    return {
        "run": run, "info": run.info, "caveats": found, "warnings": caveats.arrange(found),
        "findings": findings.findings(run),
        "fits": consolidation.fits(run, options.host),
        "per_instance": consolidation.per_instance(run),
        "scenarios": [scenario.cost(run, s) for s in (options.scenarios if options.scenarios is not None
                                                      else scenario.shipped())],
        "links": {name: _link(run, name, output, options.single_file) for name in RAW_FILES},
        "trials": _trial_rows(run),
        "applications": applications.tables(run),
        "scorecard": scorecard.scorecard(run),
        "neighbours": neighbours.section(run),
        "portability": moved if len(moved := portability.moves(run)) > 1 else [],
    }


def render(runs: list[LoadedRun], output: Path, options: Options = Options()) -> str:
    context = {
        "runs": [_one_run(run, output, options) for run in runs],
        "verdict": _verdict_table(runs),
        "provenance": _provenance(runs),
        "reproduce": [reproduce(run) for run in runs],
        "charts": _charts(runs),
        **heading(runs),
    }
    return environment().get_template("report.html.j2").render(context)
