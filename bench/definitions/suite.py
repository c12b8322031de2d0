"""Suite files (TOML): which platforms and workloads, how often, with what resources.

A suite is user input: every problem is one line naming the file and the key (exit 2).
Suites shipped with the package live in bench/suites/; `bench run NAME` finds them by name.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.definitions import interference
from bench.definitions.tomlcheck import Table, load_toml
from bench.definitions.workload import Workload
from bench.definitions.workload import available as available_workloads
from bench.definitions.workload import load as load_workload
from bench.errors import BenchError
from bench.model import registry, resources, units

SHIPPED = Path(__file__).resolve().parents[1] / "suites"
DEFAULT = "default"
ALL = "all"  # [values.all]: every platform of the suite


@dataclass(frozen=True)
class Sampling:
    hz: float = 4.0  # RSS samples per second
    pss_every: int = 4  # PSS and USS (about 10x the cost of RSS) on every n-th sample


@dataclass(frozen=True)
class Precision:
    """After the planned repetitions (the minimum), another round for each platform × workload
    whose headline figure's 95% interval is wider than its kind's target (a half-width, as a
    fraction of the figure), until `max_repetitions`. Workloads with [settle] end their wait
    once the figure has stopped moving (bench/run/precision.py)."""

    max_repetitions: int = 8
    throughput: float = 0.03
    memory: float = 0.03
    time: float = 0.10

    def target(self, unit: str, better: str) -> float | None:
        """The half-width asked of a figure in `unit`, as a fraction of it."""
        kind = units.figure_kind(unit, better)
        return None if kind is None else float(getattr(self, kind))


KINDS = ("throughput", "memory", "time")


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    platforms: tuple[str, ...]
    workloads: tuple[str, ...]
    repetitions: int = 5
    warmup: int = 1  # recorded and flagged, left out of the statistics
    cpus: int = 1  # the same on every platform: cpuset/affinity, vCPUs
    memory_mib: int = 512  # container limit, VM memory, native cgroup limit
    seed: int = 1  # shuffles the platform order of each repetition
    timeout_s: float | None = None  # overrides every workload's own timeout
    sampling: Sampling = Sampling()
    source: str = ""
    precision: Precision | None = None
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)  # platform → the workloads it runs
    density_instances: int = 5  # instances a density workload keeps running at once
    # A server workload's client values ("all" or a platform → workload → a subset of its values).
    values: dict[str, dict[str, tuple[int, ...]]] = field(default_factory=dict)
    placement: str = "same-cpu"  # an interference trial's neighbour: on the victim's CPUs or beside them
    # Every timed workload's measured duration (its {seconds}) instead of its own: a quick run
    # whose figures are noisier, which the report says.
    seconds: int | None = None
    # The workloads a warm-up repetition runs (empty: all). A platform's first start warms its
    # engine, image and page cache whatever the workload, so one short one does it.
    warmup_workloads: tuple[str, ...] = ()

    def runs(self, platform: str, workload: str) -> bool:
        return workload in self.only.get(platform, (workload,))

    def workload_for(self, platform: str, workload: Workload) -> Workload:
        """The workload as this platform runs it: its client at the suite's values, if it narrows them."""
        if self.seconds is not None and workload.seconds is not None:
            workload = replace(workload, expected_s=workload.expected_for(self.seconds))
        chosen = self.values.get(platform, {}).get(workload.name) or self.values.get(ALL, {}).get(workload.name)
        if workload.client is None or not chosen:
            return workload
        share = len(chosen) / len(workload.client.values)  # of the client's time, roughly all of a trial's
        return replace(workload, client=replace(workload.client, values=chosen), expected_s=workload.expected_s * share)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Suite:
        fields = dict(data)
        fields["platforms"] = tuple(fields["platforms"])
        fields["workloads"] = tuple(fields["workloads"])
        fields["sampling"] = Sampling(**fields.get("sampling", {}))
        fields["only"] = {k: tuple(v) for k, v in fields.get("only", {}).items()}
        fields["values"] = {k: {w: tuple(v) for w, v in by.items()} for k, by in fields.get("values", {}).items()}
        fields["warmup_workloads"] = tuple(fields.get("warmup_workloads", ()))
        if fields.get("precision"):
            fields["precision"] = Precision(**fields["precision"])
        return cls(**fields)

    def timeout_for(self, workload: Workload) -> float:
        return self.timeout_s if self.timeout_s is not None else workload.timeout_s


def shipped() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.toml"))


def resolve(name_or_path: str | None) -> Path:
    """A suite file: a path, or the name of a shipped suite."""
    if name_or_path is None:
        return SHIPPED / f"{DEFAULT}.toml"
    path = Path(name_or_path)
    if path.suffix == ".toml" or os.sep in name_or_path:
        return path
    if (SHIPPED / f"{name_or_path}.toml").is_file():
        return SHIPPED / f"{name_or_path}.toml"
    raise BenchError(f"unknown suite {name_or_path!r} (shipped: {', '.join(shipped())}; "
                     "or give a path to a .toml file)")


def load(name_or_path: str | None) -> Suite:
    path = resolve(name_or_path)
    top = Table(load_toml(path), path)
    name = top.text("name")
    description = top.text("description", default="")
    platforms = _platforms(top)
    known = available_workloads()
    chosen = _names(top, "workloads", tuple(known))
    repetitions = top.integer("repetitions", default=5, minimum=1)
    warmup = top.integer("warmup", default=1, minimum=0)
    cpus = top.integer("cpus", default=1, minimum=1)
    available_cpus = len(os.sched_getaffinity(0))
    if cpus > available_cpus:
        raise top.error("cpus", f"{cpus} asked for, this host offers {available_cpus}")
    memory_mib = top.integer("memory_mib", default=512, minimum=64)
    seed = top.integer("seed", default=1)
    timeout_s = top.number("timeout_s", default=None, positive=True)
    seconds = top.integer("seconds", default=None, minimum=1)
    sampling_table = top.table("sampling", optional=True)
    sampling = Sampling(hz=float(sampling_table.number("hz", default=4.0, positive=True)),
                        pss_every=sampling_table.integer("pss_every", default=4, minimum=1))
    sampling_table.finish()
    only_table = top.table("only", optional=True)
    only = {}
    for platform in list(only_table.data):
        if platform not in platforms:
            raise only_table.error(platform, f"is not one of this suite's platforms ({', '.join(platforms)})")
        only[platform] = _names(only_table, platform, chosen, noun="workload")
    only_table.finish()
    # A broken workload file is named now, not halfway through the run.
    loaded = {name_: load_workload(name_) for name_ in chosen}
    valued = dict(loaded)  # what [values] may narrow: the suite's workloads and their victims (noisy-redis's redis)
    for name_, workload_ in loaded.items():
        if not workload_.kind_traits.measured:
            raise top.error("workloads", f"{name_!r} is a stress: it runs only as an interference workload's "
                            "neighbour (e.g. noisy-cpu), never measured on its own")
        if workload_.kind_traits.composite:
            victim = interference.resolve(workload_).victim
            valued.setdefault(victim.name, victim)
    values = _client_values(top.table("values", optional=True), platforms, valued)
    density_table = top.table("density", optional=True)
    density_instances = density_table.integer("instances", default=5, minimum=1)
    density_table.finish()
    interference_table = top.table("interference", optional=True)
    placement = interference_table.text("placement", default="same-cpu")
    try:  # a host too small for it is told now, before any trial
        resources.place_pair(placement, cpus, 64)
    except resources.PlacementError as e:
        raise interference_table.error("placement", str(e).removeprefix(f"{placement}: ")) from None
    interference_table.finish()
    if "adaptive" in top.data:
        raise top.error("adaptive", "was replaced by [precision] (a target width per kind of figure); "
                        "see the README, \"Suites and runs\"")
    precision = _precision(top.table("precision"), repetitions) if "precision" in top.data else None
    warmup_workloads = _names(top, "warmup_workloads", chosen, noun="workload") if "warmup_workloads" in top.data else ()
    top.finish()
    return Suite(name, description, platforms, chosen, repetitions, warmup, cpus, memory_mib,
                 seed, None if timeout_s is None else float(timeout_s), sampling, str(path), precision, only,
                 density_instances, values, placement, seconds, warmup_workloads)


def _precision(table: Table, repetitions: int) -> Precision:
    """[precision]: the cap, and a target half-width per kind of figure (fractions: 0.03 is 3%)."""
    defaults = Precision()
    cap = table.integer("max_repetitions", default=max(defaults.max_repetitions, repetitions), minimum=repetitions)
    targets = {}
    for kind in KINDS:
        target = table.number(kind, default=getattr(defaults, kind), positive=True)
        if target >= 1:
            raise table.error(kind, f"is a fraction of the figure (0.03 for 3%), got {target!r}")
        targets[kind] = float(target)
    table.finish()
    return Precision(cap, **targets)


def _client_values(table: Table, platforms: tuple[str, ...],
                   chosen: dict[str, Workload]) -> dict[str, dict[str, tuple[int, ...]]]:
    """[values.all] or [values.PLATFORM]: workload = [a subset of its client's values]."""
    found = {}
    for key in list(table.data):
        if key != ALL and key not in platforms:
            raise table.error(key, f"is not {ALL!r} or one of this suite's platforms ({', '.join(platforms)})")
        by_workload = table.table(key)
        found[key] = {}
        for name in list(by_workload.data):
            if name not in chosen:
                raise by_workload.error(name, f"is not one of this suite's workloads ({', '.join(chosen)})")
            client = chosen[name].client
            if client is None:
                raise by_workload.error(name, "is not a server workload: it has no [client] values")
            subset = by_workload.integer_list(name)
            if not set(subset) <= set(client.values):
                raise by_workload.error(name, f"{subset} is not among the workload's values {list(client.values)}")
            found[key][name] = tuple(v for v in client.values if v in subset)
        by_workload.finish()
    table.finish()
    return found


def _platforms(top: Table) -> tuple[str, ...]:
    """Registered platforms, or parameterised ones (docker:RUNTIME), each once."""
    names = top.text_list("platforms", non_empty=True)
    for name in names:
        try:
            registry.get(name)
        except BenchError as e:
            raise top.error("platforms", str(e)) from None
    if len(set(names)) != len(names):
        raise top.error("platforms", "names a value twice")
    return tuple(names)


def _names(top: Table, key: str, known: tuple[str, ...], noun: str = "") -> tuple[str, ...]:
    names = top.text_list(key, non_empty=True)
    for name in names:
        if name not in known:
            raise top.error(key, f"unknown {noun or key[:-1]} {name!r} (known: {', '.join(known) or 'none'})")
    if len(set(names)) != len(names):
        raise top.error(key, "names a value twice")
    return tuple(names)
