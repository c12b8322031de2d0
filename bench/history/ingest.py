"""`bench history add`: finished run directories into the store, each run in one transaction.

A run is stored once per host (by its run id): adding it again changes nothing. The host is
identified by a fingerprint of facts that do not drift (CPU model, logical CPUs, memory in
GiB, the CPU's hypervisor flag), read from the run's own run.json, so a run directory copied
from another machine is filed under that machine.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from bench.definitions.suite import Suite
from bench.errors import BenchError
from bench.history import schema
from bench.history.store import Store
from bench.host.facts import HostInfo
from bench.model.series import IDENTITY, SeriesKey
from bench.rundir.info import RunInfo
from bench.rundir.results import unfinished_seqs
from bench.rundir.runs import LoadedRun, load

GIB = 2**30
IMPORTED = "name:"  # the fingerprint of a host known only by the name an import file gave
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class HostFacts:
    fingerprint: str
    name: str
    cpu_model: str = ""
    logical_cpus: int | None = None
    memory_gib: int | None = None
    hypervisor: bool | None = None


@dataclass(frozen=True)
class PointData:
    series: SeriesKey
    median: float
    ci_low: float
    ci_high: float
    values: tuple[float, ...]
    disturbed: int = 0  # of the cell's measured trials


@dataclass(frozen=True, order=True)
class EqualValue:
    """A value every platform must reproduce (better = "equal": hello's digest), as one run gave it."""

    series: SeriesKey
    value: str

    def row(self) -> dict[str, str]:
        """The equal_values table's columns (its series are all better = equal)."""
        key = self.series
        return {"workload": key.workload, "platform": key.platform, "accel": key.accel, "metric": key.metric,
                "dimensions": key.dimensions,
                "unit": key.unit, "value": self.value}


@dataclass
class RunData:
    """One run as the store holds it, from a run directory or from an import file."""

    host: HostFacts
    run_id: str
    started_at: str  # ISO 8601 UTC
    points: list[PointData]
    source: str = "run"
    stack: dict[str, str] = field(default_factory=dict)  # the runs table's version columns
    labels: dict[str, str] = field(default_factory=dict)
    equal_values: set[EqualValue] = field(default_factory=set)


def host_facts(host: HostInfo, profile: str = "") -> HostFacts:
    """The host as the history knows it; its id hashes what stays put across reboots and runs,
    and the host profile's name where the run named one (two identical machines of a fleet are
    two hosts)."""
    cpus = host.logical_cpus or None
    memory_gib = round(host.memory_bytes / GIB) if host.memory_bytes else None
    hypervisor = "hypervisor" in host.cpu_flags
    stable = json.dumps([host.cpu_model, cpus, memory_gib, hypervisor, *([profile] if profile else [])])
    return HostFacts(hashlib.sha256(stable.encode()).hexdigest()[:16], profile or host.hostname, host.cpu_model, cpus,
                     memory_gib, hypervisor)


def utc_iso(text: str) -> str:
    """A timestamp (ISO 8601, with or without zone; none means UTC) as YYYY-MM-DDTHH:MM:SSZ."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def suite_hash(suite: Suite) -> str:
    """The suite's content, not where its file was."""
    content = {k: v for k, v in suite.to_json().items() if k != "source"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def stack_of(info: RunInfo) -> dict[str, str]:
    """The runs table's stack columns (schema.STACK_COLUMNS) and the suite's name, from run.json."""
    versions = info.versions
    return {"suite": info.suite.name, "suite_hash": suite_hash(info.suite),
            "harness_commit": info.harness.commit + ("-dirty" if info.harness.dirty else ""),
            "kernel": info.host.kernel, "qemu": str(versions.get("qemu", "")),
            "libvirt": str(versions.get("libvirt", "")), "docker_engine": str(versions.get("docker engine", "")),
            "image_key": info.image_key}


def read_run_dir(path: Path, labels: dict[str, str]) -> RunData:
    """A finished run directory as RunData; an unfinished or unreadable one is a BenchError."""
    loaded = load(path)
    unfinished = unfinished_seqs(loaded.info.plan, loaded.records)
    if unfinished:
        raise BenchError(f"{path}: unfinished run ({len(unfinished)} planned trial(s) not recorded; "
                         f"`bench run --resume {path}` completes it)")
    try:
        started_at = utc_iso(loaded.info.started_at)
    except ValueError:
        raise BenchError(f"{path / 'run.json'}: no valid started_at") from None
    profile = str((loaded.info.host_profile or {}).get("name", ""))
    return RunData(host_facts(loaded.info.host, profile), loaded.run_id, started_at, points_of(loaded),
                   "run", stack_of(loaded.info), dict(labels), equal_values_of(loaded))


def points_of(loaded: LoadedRun) -> list[PointData]:
    """Every counted metric: its summary row (median and CI, from the run's own seed) and values."""
    points = []
    for row in loaded.summary:
        points.append(PointData(row.key, row.median, row.ci_low, row.ci_high, tuple(loaded.values[row.key]),
                                row.disturbed))
    return points


def equal_values_of(loaded: LoadedRun) -> set[EqualValue]:
    return {EqualValue(key, value) for key, values in loaded.equal_values.items() for value in values}


def add(store: Store, runs: Iterable[RunData]) -> list[tuple[RunData, bool]]:
    """Store every run not stored yet, all in one transaction. (run, whether it was new)."""
    outcome = []
    with store.transaction() as conn:
        for run in runs:
            outcome.append((run, add_one(store, conn, run)))
    return outcome


def add_one(store: Store, conn: sa.Connection, run: RunData) -> bool:
    """Store `run` unless its host has it already; True when it was new."""
    host_id = _host_id(store, conn, run.host)
    inserted = conn.execute(
        store.insert(schema.runs).values(
            host_id=host_id, run_id=run.run_id, started_at=run.started_at, labels=json.dumps(run.labels, sort_keys=True),
            source=run.source, **{k: v for k, v in run.stack.items() if k in schema.runs.c})
        .on_conflict_do_nothing(index_elements=["host_id", "run_id"]).returning(schema.runs.c.id)).scalar()
    if inserted is None:  # stored before (or by a concurrent add that committed first)
        return False
    series_ids = series_id_map(store, conn, {p.series for p in run.points})
    if run.points:
        conn.execute(sa.insert(schema.points), [
            {"run_id": inserted, "series_id": series_ids[p.series], "median": p.median, "ci_low": p.ci_low,
             "ci_high": p.ci_high, "n": len(p.values), "trial_values": json.dumps(list(p.values)),
             "disturbed": p.disturbed}
            for p in run.points])
    if run.equal_values:
        conn.execute(sa.insert(schema.equal_values), [{"run_id": inserted, **v.row()} for v in sorted(run.equal_values)])
    return True


def _host_id(store: Store, conn: sa.Connection, host: HostFacts) -> int:
    hosts = schema.hosts
    facts = {"name": host.name, "cpu_model": host.cpu_model, "logical_cpus": host.logical_cpus,
             "memory_gib": host.memory_gib, "hypervisor": host.hypervisor}
    statement = store.insert(hosts).values(fingerprint=host.fingerprint, **facts)
    if host.cpu_model:  # a host first known from an import file learns its facts from a run directory
        statement = statement.on_conflict_do_update(index_elements=["fingerprint"], set_=facts,
                                                    where=hosts.c.cpu_model == "")
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["fingerprint"])
    conn.execute(statement)
    return int(conn.execute(sa.select(hosts.c.id).where(hosts.c.fingerprint == host.fingerprint)).scalar_one())


def series_id_map(store: Store, conn: sa.Connection, keys: set[SeriesKey]) -> dict[SeriesKey, int]:
    """The ids of these series, creating the missing ones. A series known with another unit or
    direction is an error: its history would mix two quantities."""
    table = schema.series
    if not keys:
        return {}
    ordered = sorted(keys)
    conn.execute(store.insert(table).on_conflict_do_nothing(index_elements=list(IDENTITY)),
                 [k.as_dict() for k in ordered])
    known = {(row.workload, row.platform, row.accel, row.metric, row.dimensions): row
             for row in conn.execute(sa.select(table))}
    found = {}
    for key in ordered:
        row = known[key.identity]
        if (key.unit, key.better) != (row.unit, row.better):
            raise BenchError(f"{key.name} is in {key.unit} "
                             f"({key.better} is better), but the history has it in {row.unit} ({row.better} is better)")
        found[key] = row.id
    return found
