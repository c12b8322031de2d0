from __future__ import annotations

import os
from pathlib import Path

import pytest

VALID_WORKLOAD = """\
name = "{name}"
description = "a test workload"
packages = ["sysbench"]
command = ["sysbench", "cpu", "run"]
timeout_s = 30
expected_s = 5

[score]
regex = 'events per second:\\s*([0-9.]+)'
unit = "events/s"
better = "higher"
"""


REAL_HOST_DIRS = ("integration", "benchmarks")  # tests that drive real engines


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    real = [item for item in items if Path(item.fspath).parent.name in REAL_HOST_DIRS]
    for item in real:
        item.add_marker(pytest.mark.integration)
    if real and os.geteuid() != 0:  # skipping them would pass a suite that tested nothing real
        raise pytest.UsageError(f"{len(real)} integration tests need root: run `make test`, which uses sudo "
                                "(or select tests/unit alone)")


@pytest.fixture
def workloads_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workloads directory that bench uses instead of the project's."""
    root = tmp_path / "workloads"
    root.mkdir()
    monkeypatch.setenv("BENCH_WORKLOADS_DIR", str(root))
    return root


def write_workload(root: Path, name: str, text: str | None = None) -> Path:
    path = root / name / "workload.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(VALID_WORKLOAD.format(name=name) if text is None else text)
    return path
