"""Consolidation: how many idle instances of each kind fit on a host, from measured figures.

Per instance: when the run has a density workload, the host memory one more running instance
took (drop in available memory) and its disk growth; otherwise the idle workload's mean PSS
(the memory the instance adds, shared pages split fairly) and disk growth. The image is paid
once per host. The whole of a host's memory
and disk counts, with nothing held back for the host itself: a ceiling, not a plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.definitions.workload import SETTLED_METRIC
from bench.model.registry import label
from bench.model.units import MIB
from bench.report.verdict import column_name, platforms
from bench.rundir.runs import LoadedRun

@dataclass(frozen=True)
class HostSize:
    name: str
    memory_bytes: int | None
    disk_bytes: int | None


@dataclass(frozen=True)
class PerInstance:
    column: str
    memory_mib: float | None
    disk_mib: float | None
    image_mib: float | None
    limit_mib: float | None  # the memory limit each instance was given
    source: str = ""  # which measurement the memory and disk figures come from


@dataclass(frozen=True)
class Fit:
    host: HostSize
    counts: tuple[tuple[str, str, str], ...]  # per platform: (column, by memory, by disk)
    mix: str  # the split: half the memory to VMs, half to containers


def _density(run: LoadedRun, platform: str) -> tuple[str, float, float | None] | None:
    """(workload, memory MiB, disk MiB) of one more running instance, from a density trial."""
    workload = run.workload_with("density_mem_mib")
    memory = run.median(workload, "density_mem_mib", platform) if workload else None
    if workload is None or memory is None:
        return None
    # The available-memory drop is noise for instances smaller than its jitter: PSS is the floor.
    memory = max(memory, run.median(workload, "density_pss_mib", platform) or 0.0)
    return workload, memory, run.median(workload, "density_disk_mib", platform)


def per_instance(run: LoadedRun) -> tuple[str | None, list[PerInstance]]:
    metric = run.idle_memory_metric
    workload = run.workload_with(metric, ("idle",))
    found = []
    for platform in platforms(run):
        record = run.first_counted(platform)
        limit = float(record.facts["memory_mib"]) if record and "memory_mib" in record.facts else None
        image = next((v for w in ([workload] if workload else []) + list(run.suite.workloads)
                      if (v := run.median(w, "image_mib", platform)) is not None), None)
        density = _density(run, platform)
        if density is not None:
            name, memory, disk = density
            n = run.suite.density_instances
            found.append(PerInstance(column_name(platform, run), memory, disk, image, limit,
                                     f"{name}: one more of {n} running (drop in host available memory, "
                                     "at least its PSS)"))
        elif workload is not None:
            found.append(PerInstance(
                column_name(platform, run), run.median(workload, metric, platform),
                run.median(workload, "instance_disk_mib", platform), image, limit,
                f"{workload}: {'settled' if metric == SETTLED_METRIC else 'mean'} PSS"))
        else:
            found.append(PerInstance(column_name(platform, run), None, None, image, limit, "not measured"))
    return workload, found


def _count(capacity_bytes: int | None, each_mib: float | None, once_mib: float = 0.0) -> str:
    if capacity_bytes is None or each_mib is None:
        return "—"
    room = capacity_bytes / MIB - once_mib
    if room <= 0:
        return "0"
    if each_mib <= 0.05:
        return "not bound by this (≈0 MiB each)"
    return f"{math.floor(room / each_mib):,}"


def _mix(host: HostSize, instances: list[PerInstance]) -> str:
    by_column = {i.column.split("/")[0]: i for i in instances}
    vm, docker = by_column.get(label("vm")), by_column.get("docker")
    if host.memory_bytes is None or not vm or not docker or not vm.memory_mib or not docker.memory_mib:
        return ""
    half = host.memory_bytes / MIB / 2
    return (f"Half the memory to VMs and half to containers: {math.floor(half / vm.memory_mib):,} idle VMs "
            f"and {math.floor(half / docker.memory_mib):,} idle containers.")


def fits(run: LoadedRun, extra: HostSize | None) -> list[Fit]:
    _, instances = per_instance(run)
    host = run.info.host
    hosts = [HostSize(f"this host ({host.hostname})", host.memory_bytes or None,
                      run.info.storage.get("total_bytes"))]
    profile = run.info.host_profile or {}
    if profile.get("memory_bytes") or profile.get("disk_bytes"):
        hosts.append(HostSize(f"host profile {profile.get('name', '?')}", profile.get("memory_bytes"),
                              profile.get("disk_bytes")))
    if extra is not None:
        hosts.append(extra)
    out = []
    for size in hosts:
        counts = tuple((i.column, _count(size.memory_bytes, i.memory_mib),
                        _count(size.disk_bytes, i.disk_mib, i.image_mib or 0.0)) for i in instances)
        out.append(Fit(size, counts, _mix(size, instances)))
    return out
