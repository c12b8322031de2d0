"""A pytest-benchmark JSON file: one benchmark per series of a time metric (platform × workload ×
metric × dimensions; the dimensions are its params, beside the platform's).

The statistics are computed by pytest-benchmark's own `Stats` from every measured trial's
value, so `pytest-benchmark compare FILE` shows them as it shows its own runs.
"""

from __future__ import annotations

import json
import platform as host_platform

import pytest_benchmark
from pytest_benchmark.stats import Stats

from bench.model.registry import label
from bench.model.sample import dimensions_order
from bench.model.series import SeriesKey
from bench.rundir.runs import LoadedRun

DEFAULT_NAME = "pytest-benchmark.json"


def _benchmark(key: SeriesKey, values: list[float], run: LoadedRun) -> dict:
    workload, metric, platform, accel = key.workload, key.metric, key.platform, key.accel
    stats = Stats()
    for value in values:
        stats.update(value)
    dimensions = key.dimension_map
    where = "-".join([label(platform, accel), *(f"{k}={v}" for k, v in dimensions.items())])
    return {
        "group": f"{workload}: {metric}", "name": f"{metric}[{where}]",
        "fullname": f"{run.suite_name}/{workload}::{metric}[{where}]",
        "params": {"platform": platform, "accel": accel, **dimensions}, "param": where,
        "extra_info": {"workload": workload, "metric": metric, "unit": "s", "run_id": run.run_id},
        "options": {"timer": "host monotonic clock (vmct-bench)", "min_rounds": len(values), "warmup": False},
        "stats": {**stats.as_dict(), "data": list(values), "iterations": 1},
    }


def render(run: LoadedRun) -> dict[str, str]:
    benchmarks = []
    for key, values in sorted(run.values.items(), key=lambda kv: (kv[0].workload, kv[0].metric,
                                                                   dimensions_order(kv[0].dimensions),
                                                                   kv[0].platform, kv[0].accel)):
        if key.unit == "s":
            benchmarks.append(_benchmark(key, values, run))
    host, harness = run.info.host, run.info.harness
    document = {
        "machine_info": {"node": host.hostname, "processor": host.cpu_model,
                         "machine": host_platform.machine(), "system": "Linux", "release": host.kernel,
                         "python_implementation": "CPython",
                         "python_version": run.info.versions.get("python", "?"),
                         "cpu": {"brand_raw": host.cpu_model, "count": host.logical_cpus}},
        "commit_info": {"id": harness.commit, "dirty": harness.dirty,
                        "project": "vmct-bench", "branch": None},
        "benchmarks": benchmarks,
        "datetime": run.info.started_at,
        "version": pytest_benchmark.__version__,
    }
    return {DEFAULT_NAME: json.dumps(document, indent=2, sort_keys=True) + "\n"}
