"""`bench history export --format github-action-benchmark`: per host, the history as the data
file github-action-benchmark's chart page reads (`<host>/data.js`: window.BENCHMARK_DATA), so a
dashboard built on that action keeps working. One entry per direction (the action's
customSmallerIsBetter and customBiggerIsBetter tools); one data point per run, its "commit"
standing for the run (the harness commit as id, the run id as message, the host as author);
each series a bench named as the run exports name them, with its median and 95% CI."""

from __future__ import annotations

import json
import re
from datetime import datetime

from bench.exports.github_action_benchmark import FILES
from bench.history import detect
from bench.history.store import Store
from bench.model import units
from bench.model.registry import label

# The action's tool names are its input files' names: customSmallerIsBetter(.json), ...
TOOLS = {better: name.removesuffix(".json") for better, name in FILES.items()}
ENTRY = {"lower": "vmct-bench (smaller is better)", "higher": "vmct-bench (bigger is better)"}


def _ms(started_at: str) -> int:
    return int(datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp() * 1000)


def data(store: Store, host: str | None = None) -> dict[str, dict]:
    """host name → the BENCHMARK_DATA object of its history."""
    hosts: dict[str, dict[str, dict[str, dict]]] = {}  # host → direction → run id → data point
    for series in detect.load_series(store, host):
        key = series.key
        if key.better not in TOOLS:
            continue
        points = hosts.setdefault(series.host, {}).setdefault(key.better, {})
        for run, median, (low, high) in zip(series.runs, series.medians, series.intervals):
            point = points.get(run.run_id)
            if point is None:
                who = {"name": series.host, "username": series.host}
                point = points[run.run_id] = {
                    "commit": {"author": who, "committer": who, "distinct": True,
                               "id": run.stack.get("harness_commit") or run.run_id,
                               "message": f"vmct-bench run {run.run_id}", "timestamp": run.started_at, "url": ""},
                    "date": _ms(run.started_at), "tool": TOOLS[key.better], "benches": []}
            point["benches"].append({
                "name": f"{key.workload} {key.measured} [{label(key.platform, key.accel)}]",
                "value": median, "unit": key.unit, "range": f"± {units.plain((high - low) / 2)}",
                "extra": f"95% CI {units.interval(low, high, key.unit, median)}"})
    found = {}
    for name, directions in sorted(hosts.items()):
        entries = {ENTRY[better]: sorted(points.values(), key=lambda p: (p["date"], p["commit"]["message"]))
                   for better, points in sorted(directions.items())}
        last = max((p["date"] for points in entries.values() for p in points), default=0)
        found[name] = {"lastUpdate": last, "repoUrl": "", "entries": entries}
    return found


def files(store: Store, host: str | None = None) -> dict[str, str]:
    """Relative path → content: `<host>/data.js` per host."""
    return {f"{_safe(name)}/data.js": "window.BENCHMARK_DATA = " + json.dumps(obj, indent=2) + "\n"
            for name, obj in data(store, host).items()}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"
