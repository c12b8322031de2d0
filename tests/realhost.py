"""Helpers for tests that run the real `bench` command against the real Docker engine and
libvirt. They need root, a running dockerd and libvirtd (`make test` sets all of that up).
After each such test nothing the harness started may remain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.host import cleanup

def bench(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture(scope="session")
def images() -> dict:
    """The image set for every shipped workload, built once (a no-op when cached)."""
    built = bench("images", "build")
    assert built.returncode == 0, built.stderr
    shown = bench("images", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def leftovers() -> list[str]:
    return cleanup.leftovers()


@pytest.fixture(scope="session")
def no_crashed_run_first() -> None:
    """What a crashed run left before the session (a cancelled CI job, say) is `bench clean`ed,
    so that every test's check below sees only what the tests themselves leave."""
    report, unreachable = cleanup.clean_all()
    assert unreachable == [], f"an engine the tests need is down: {unreachable}"
    removed = [line for line in report if line.startswith("removed")]
    if removed:
        print(f"\nbefore the tests, as `bench clean` would: {'; '.join(removed)}")


@pytest.fixture(autouse=True)
def nothing_left_behind(no_crashed_run_first: None) -> Iterator[None]:
    before = leftovers()
    assert before == [], f"leftovers before the test: {before}"
    yield
    after = leftovers()
    assert after == [], f"the harness left instances behind: {after}"
