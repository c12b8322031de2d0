"""Older histories and import files name a client's figures with its value inside (get_ops_s_c10)
and do not say the network path it took: what the workload definitions say those names hold,
for model.legacy."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from bench.definitions.workload import Workload, load
from bench.errors import BenchError
from bench.model import legacy
from bench.model.dimensions import STRESS


@cache
def _client_of(workload: str) -> tuple[frozenset[str], str] | None:
    """The workload's own metrics (an interference workload's: its victim's) and what its
    client's values count; None when it is not known here or has no such client."""
    try:
        found: Workload = load(workload)
        if found.kind_traits.composite and found.victim:
            found = load(found.victim)
    except BenchError:
        return None
    if found.client is None or not found.client.parameter:
        return None
    return frozenset(found.metrics), found.client.parameter


def renamer() -> Callable[[str, str, str], tuple[str, dict[str, str]]]:
    """(workload, platform, old metric name) → (metric, dimensions): a server's figure with the
    network path its platform's client took."""
    def rename(workload: str, platform: str, metric: str) -> tuple[str, dict[str, str]]:
        client = _client_of(workload)
        name, dimensions = legacy.split(metric, client=client)
        served = (client is not None and name in client[0]) or any(k != STRESS for k in dimensions)
        return name, legacy.with_path(dimensions, platform) if served else dimensions
    return rename
