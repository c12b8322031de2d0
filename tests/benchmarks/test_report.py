"""Speed of `bench report`, measured and reported by pytest-benchmark (not asserted): loading a
run (its summary and intervals recomputed from the trials) and rendering the HTML, for runs
shaped like the default suite (about 200 series, 6 trials each) and the full suite (about 380
series, 4 trials each). Target: the default-suite report under 3 s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.report import html
from bench.rundir import runs
from tests.unit.synthetic_runs import write_run

PHASES = ("created", "started", "first_output", "ready")


def shaped_run(root: Path, name: str, platforms: tuple[str, ...], workloads: dict[str, int], repetitions: int,
               only: dict[str, tuple[str, ...]]) -> Path:
    """workload → its number of metrics; `only` restricts a platform to some workloads."""
    rng = np.random.default_rng(3)
    values = {}
    for workload, metrics in workloads.items():
        for platform in platforms:
            if platform in only and workload not in only[platform]:
                continue
            names = ["boot_s", "score", "image_mib", "mem_pss_mean_mib", *(f"boot_phase.{p}_s" for p in PHASES)]
            names += [f"metric_{i}_s" for i in range(metrics - len(names))]
            for metric in names:
                values[(workload, platform, metric)] = list(rng.uniform(1, 1.1, repetitions) * rng.uniform(0.001, 100))
    return write_run(root, name, values)


def render(run_dir: Path, output: Path) -> str:
    return html.render([runs.load(run_dir)], output)


@pytest.mark.parametrize("shape", ["default", "full"])
def test_report_rendering(benchmark: pytest.FixtureRequest, tmp_path: Path, shape: str) -> None:
    if shape == "default":
        run_dir = shaped_run(tmp_path, shape, ("native", "docker", "docker-app", "vm", "vm-os"),
                             {"boot": 20, "cpu": 21, "idle": 20}, 5, {"vm-os": ("boot",)})
    else:
        run_dir = shaped_run(tmp_path, shape, ("native", "docker", "docker-volume", "docker-app", "vm", "vm-os"),
                             {w: 11 for w in ("boot", "cpu", "memory", "disk", "net", "idle", "density")}, 3,
                             {"vm-os": ("boot", "idle"), "docker-volume": ("disk",)})
    page = benchmark.pedantic(render, args=(run_dir, tmp_path / "index.html"), rounds=3, iterations=1)
    series = len(runs.load(run_dir).summary)
    benchmark.extra_info.update(series=series, html_bytes=len(page))
    assert page.count("<svg") >= series // 5  # a chart per metric, drawn
