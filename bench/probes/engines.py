"""The engines' own memory, paid once per host whatever the number of instances: Docker's
daemons (dockerd, containerd) and libvirt's (libvirtd, virtlogd). Per-container shims and
QEMU processes belong to the instances and are measured with them, not here.
"""

from __future__ import annotations

from typing import Any

import psutil

from bench.model.units import MIB

ENGINES = {"docker": ("dockerd", "containerd"), "libvirt": ("libvirtd", "virtlogd")}
HOW = "psutil memory_full_info: PSS of the engine's daemons, after the run's last trial"


def fixed_memory() -> dict[str, Any]:
    """engine → {"pss_mib", "rss_mib", "processes": {name: pss MiB}}; an engine with no
    daemon running is left out."""
    found: dict[str, Any] = {}
    for process in psutil.process_iter(["name"]):
        name = process.info["name"]
        engine = next((e for e, names in ENGINES.items() if name in names), None)
        if engine is None:
            continue
        try:
            memory = process.memory_full_info()
        except psutil.Error:
            continue
        entry = found.setdefault(engine, {"pss_mib": 0.0, "rss_mib": 0.0, "processes": {}, "how": HOW})
        entry["pss_mib"] += memory.pss / MIB
        entry["rss_mib"] += memory.rss / MIB
        entry["processes"][name] = round(entry["processes"].get(name, 0.0) + memory.pss / MIB, 3)
    for entry in found.values():
        entry["pss_mib"], entry["rss_mib"] = round(entry["pss_mib"], 3), round(entry["rss_mib"], 3)
    return found
