"""Names from before dimensions: trials.jsonl lines without a `format`, a history of schema 2 and
CSV files without a dimensions column kept a client's value and a neighbour's stress inside the
metric's name (`get_ops_s_c10`, `score__fork`), and a server's figures did not say which network
path the host's client took (each platform took one: its own). This one adapter maps such a name
to the metric and its dimensions, so a series keeps its history across the change.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from bench.errors import BenchError
from bench.model import registry
from bench.model.dimensions import BRIDGE, DNAT, HOST, PATH, STRESS, TAP
from bench.model.sample import sorted_dimensions

CONDITION = "__"  # score__fork: the victim's score beside the fork stress
SUFFIXED = re.compile(r"^(?P<base>[a-z][a-z0-9_.]*)_(?P<suffix>[a-z]+)(?P<value>\d+)$")
# What a client's suffix counted where nothing says (the shipped workloads' `c` counted clients,
# but for nginx, whose trials all say "c=connections" in their client_values fact).
DEFAULT_SUFFIXES = {"c": "clients"}


def suffixes_from_fact(fact: str) -> dict[str, str]:
    """A trial's `client_values` fact ("c=clients") as suffix → dimension."""
    suffix, sep, parameter = fact.partition("=")
    return {suffix: parameter or "value"} if sep and suffix else {}


def split(metric: str, suffixes: Mapping[str, str] = DEFAULT_SUFFIXES,
          client: tuple[Collection[str], str] | None = None) -> tuple[str, dict[str, str]]:
    """An old metric name → (the metric, its dimensions). With `client` (the workload's own
    metrics and what its client's values count), any suffix on one of those metrics is a client
    value; without, only a suffix of `suffixes` is."""
    base, sep, stress = metric.partition(CONDITION)
    found = {STRESS: stress} if sep and stress else {}
    match = SUFFIXED.match(base)
    if match and client is not None:
        metrics, parameter = client
        if match["base"] in metrics:
            base, found[parameter] = match["base"], match["value"]
    elif match and match["suffix"] in suffixes:
        base, found[suffixes[match["suffix"]]] = match["base"], match["value"]
    return base, sorted_dimensions(found)


def path_of(platform: str, network_path: str = "") -> str:
    """The one path a server's client took before figures said so: read from the trial's
    `network_path` fact where there is one, else what the platform's path always was."""
    if " published (-p) " in network_path:
        return DNAT
    if network_path.startswith(("loopback", "the host's network namespace")):
        return HOST
    if network_path.startswith("Podman network") or "a veth pair, the container" in network_path:
        return BRIDGE
    if network_path.startswith("libvirt network"):
        return TAP
    try:
        found = registry.get(platform)
    except BenchError:
        return ""
    if found.kind == "native" or found.host_network:
        return HOST
    return {"container": DNAT, "podman": BRIDGE, "lxc": BRIDGE, "vm": TAP}[found.kind]


def with_path(dimensions: dict[str, str], platform: str, network_path: str = "") -> dict[str, str]:
    """A server's figure's dimensions with the path its client took then, unless they say one."""
    path = dimensions.get(PATH) or path_of(platform, network_path)
    return sorted_dimensions({**dimensions, PATH: path}) if path else dimensions
