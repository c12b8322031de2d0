"""Consolidation scenarios: a user's deployment of VMs, and the same components after moving
some of them into containers, costed with the run's measured per-instance figures.

A scenario is a small TOML file (examples/scenarios/) or a one-line text:
    "9 vm x 8GiB"                                  every component into its own container
    "9 vm x 8GiB -> 4 vm + 20 containers x 1GiB"   keep 4 VMs, 20 containers of 1 GiB each

What is measured and what is assumed, kept apart:
  assumed (the scenario's): each VM's RAM, each container's working set (the application's own
    memory, the same wherever it runs: a container is given only that);
  measured (the run's): each VM's VMM overhead beyond its guest RAM (idle workload), each
    container's own overhead (idle container PSS: shim, launcher), and the engines' fixed
    memory (dockerd + containerd, libvirtd + virtlogd), paid once per host.
A VM's RAM counts whole: the guest owns it and, once touched, the host cannot hand it back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from bench.definitions.tomlcheck import Table, load_toml
from bench.errors import BenchError
from bench.model import units
from bench.model.units import MIB
from bench.model.units import parse_size
from bench.rundir.runs import LoadedRun

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = PROJECT / "examples" / "scenarios"
TEXT = re.compile(r"^\s*(\d+)\s*vms?\s*x\s*(\S+?)\s*(?:->\s*(\d+)\s*vms?\s*\+\s*(\d+)\s*containers?"
                  r"(?:\s*x\s*(\S+))?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Scenario:
    name: str
    vms: int
    vm_memory_bytes: int
    keep_vms: int
    containers: int
    container_memory_bytes: int  # each container's working set
    source: str  # the file or the text it came from


def parse(text: str) -> Scenario:
    """A scenario file's path, or the one-line form; BenchError naming what is wrong."""
    path = Path(text)
    if text.endswith(".toml") or path.is_file():
        return _from_file(path)
    match = TEXT.match(text)
    if not match:
        raise BenchError(f"scenario {text!r}: not a TOML file or 'N vm x SIZE [-> M vm + C containers [x SIZE]]'")
    vms, size, keep, containers, container_size = match.groups()
    try:
        vm_bytes = parse_size(size)
        container_bytes = parse_size(container_size) if container_size else vm_bytes
    except ValueError as e:
        raise BenchError(f"scenario {text!r}: {e}") from None
    n = int(vms)
    keep_n = int(keep) if keep is not None else 0
    scenario = Scenario(text.strip(), n, vm_bytes, keep_n, int(containers) if containers is not None else n,
                        container_bytes, text.strip())
    return _checked(scenario, f"scenario {text!r}")


def _from_file(path: Path) -> Scenario:
    table = Table(load_toml(path), path)
    vms = table.integer("vms", minimum=1)
    vm_bytes, container_bytes = (_size(table, key) for key in ("vm_memory", "container_memory"))
    # A shipped example is named from the project, so the report does not depend on the checkout's place.
    shown = path.resolve().relative_to(PROJECT) if path.resolve().is_relative_to(PROJECT) else path
    scenario = Scenario(table.text("name"), vms, vm_bytes, table.integer("keep_vms", minimum=0),
                        table.integer("containers", minimum=0), container_bytes, str(shown))
    table.finish()
    return _checked(scenario, str(path))


def _size(table: Table, key: str) -> int:
    try:
        return parse_size(table.text(key))
    except ValueError as e:
        raise table.error(key, str(e)) from None


def _checked(scenario: Scenario, where: str) -> Scenario:
    if scenario.keep_vms > scenario.vms:
        raise BenchError(f"{where}: keeps {scenario.keep_vms} VMs of {scenario.vms}")
    if scenario.keep_vms == scenario.vms and scenario.containers:
        raise BenchError(f"{where}: keeps every VM, so there is nothing to move into containers")
    return scenario


def shipped() -> list[Scenario]:
    return [_from_file(path) for path in sorted(SHIPPED.glob("*.toml"))]


@dataclass(frozen=True)
class Line:
    what: str
    count: int
    each_mib: float  # per instance, assumed part + measured part
    detail: str

    @property
    def total_mib(self) -> float:
        return self.count * self.each_mib


@dataclass(frozen=True)
class Costed:
    scenario: Scenario
    before: list[Line]
    after: list[Line]
    notes: list[str]

    @property
    def before_mib(self) -> float:
        return sum(line.total_mib for line in self.before)

    @property
    def after_mib(self) -> float:
        return sum(line.total_mib for line in self.after)

    @property
    def freed_mib(self) -> float:
        return self.before_mib - self.after_mib

    def summary(self) -> str:
        s = self.scenario
        share = self.freed_mib / self.before_mib if self.before_mib else math.nan
        return (f"{s.vms} VMs of {units.human(s.vm_memory_bytes, 'bytes')} → {s.keep_vms} VMs + {s.containers} "
                f"containers of {units.human(s.container_memory_bytes, 'bytes')}: "
                f"{units.human(self.before_mib, 'MiB')} → {units.human(self.after_mib, 'MiB')}, "
                f"{units.human(self.freed_mib, 'MiB')} freed ({units.plain(share * 100)}%).")


def _measured(run: LoadedRun, metric: str, platform: str) -> float | None:
    workload = run.workload_with(metric, ("idle",))
    return run.median(workload, metric, platform) if workload else None


def cost(run: LoadedRun, scenario: Scenario) -> Costed:
    notes = []
    vmm = _measured(run, "vmm_overhead_mib", "vm")
    container = _measured(run, run.idle_memory_metric, "docker")
    if vmm is None:
        notes.append("no VMM overhead measured in this run (no idle VM): counted as 0")
    elif "tcg" in run.vm_accels:
        notes.append("the VMM overhead was measured under TCG emulation and includes its translation cache; "
                     "under KVM it is smaller")
    if container is None:
        notes.append("no idle container measured in this run: its overhead counted as 0")
    engines = run.info.engines_memory
    if engines is None:
        notes.append("this run did not record the engines' own memory (a run made before it was measured): "
                     "counted as 0")
        engines = {}
    libvirt = float(engines.get("libvirt", {}).get("pss_mib", 0.0))
    docker = float(engines.get("docker", {}).get("pss_mib", 0.0))
    vm_mib = scenario.vm_memory_bytes / MIB
    per_vm = vm_mib + (vmm or 0.0)
    vm_detail = f"{units.human(vm_mib, 'MiB')} RAM (assumed) + {units.human(vmm or 0.0, 'MiB')} VMM overhead (measured)"
    engine_line = Line("libvirt daemons (once per host)", 1, libvirt, "libvirtd + virtlogd PSS (measured)")
    before = [Line("VMs", scenario.vms, per_vm, vm_detail), engine_line]
    working = scenario.container_memory_bytes / MIB
    after = [Line("containers", scenario.containers, working + (container or 0.0),
                  f"{units.human(working, 'MiB')} working set (assumed) + "
                  f"{units.human(container or 0.0, 'MiB')} container overhead (measured)"),
             Line("Docker daemons (once per host)", 1, docker, "dockerd + containerd PSS (measured)")]
    if scenario.keep_vms:
        after = [Line("VMs kept", scenario.keep_vms, per_vm, vm_detail), engine_line] + after
    return Costed(scenario, before, after, notes)
