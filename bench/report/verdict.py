"""The verdict table: the classic VMs-vs-containers comparison, every cell measured.

Measured rows take a metric's median from one workload (the one made to show it: boot time
from `boot`, idle memory from `idle`, CPU from `cpu`; otherwise the first that has it), with
its 95% CI and the ratio to native. The isolation rows are what /proc showed for each
instance while it ran; portability and image automation come from the image manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis import stats
from bench.definitions.workload import SETTLED_METRIC
from bench.model import registry, units
from bench.model.registry import label as platform_label
from bench.rundir.runs import LoadedRun


@dataclass(frozen=True)
class Measure:
    label: str
    metric: str
    workloads: tuple[str, ...]  # preferred, in order; any workload with the metric otherwise
    instead: str = ""  # the metric shown when the run has none of `metric` (an older run's)


MEASURES = (
    Measure("Boot time", "boot_s", ("boot",)),
    Measure("Teardown time", "teardown_s", ("boot",)),
    Measure("Disk: image", "image_mib", ("boot", "idle")),
    Measure("Disk: added per instance", "instance_disk_mib", ("idle",)),
    Measure("Memory: one idle instance (PSS)", SETTLED_METRIC, ("idle",), instead="mem_pss_mean_mib"),
    Measure("Memory: the VMM's own overhead", "vmm_overhead_mib", ("idle",)),
    Measure("Memory: one more running instance", "density_mem_mib", ("density",)),
    Measure("Density: instances per GiB", "density_per_gib", ("density",)),
    Measure("CPU throughput", "score", ("cpu",)),
    Measure("Memory bandwidth, sequential read", "read_mib_s", ("memory",)),
    Measure("Memory bandwidth, sequential write", "write_mib_s", ("memory",)),
    Measure("Disk: 4 KiB random read", "randread_iops", ("disk",)),
    Measure("Disk: 4 KiB random write", "randwrite_iops", ("disk",)),
    Measure("Disk: 1 MiB sequential write", "seqwrite_mib_s", ("disk",)),
    Measure("Disk: random write latency p99", "randwrite_p99_us", ("disk",)),
    Measure("Network: TCP throughput to the host", "throughput_mbit_s", ("net",)),
    Measure("Network: round trip p50", "rtt_p50_us", ("net",)),
    Measure("Network: round trip p99", "rtt_p99_us", ("net",)),
)
ISOLATION = (
    ("Kernel", "isolation.kernel"),
    ("OCI runtime (containers)", "runtime"),
    ("Own namespaces (outermost process)", "isolation.namespaces"),
    ("User (outermost process)", "isolation.user"),
    ("Capabilities held", "isolation.capabilities"),
    ("Seccomp", "isolation.seccomp"),
    ("no_new_privs", "isolation.no_new_privs"),
    ("Where writes go", "storage"),
    ("Network path (network workloads)", "network_path"),
    ("Boot profile", "boot_profile"),
)
# The exposure probe's (workload exposure): its figures, then what it saw.
SECURITY = (
    Measure("System calls that reach the host kernel", "syscalls_host_reachable", ("exposure",)),
    Measure("System calls reachable (any kernel)", "syscalls_reachable", ("exposure",)),
    Measure("Capabilities held by root inside", "capabilities_held", ("exposure",)),
    Measure("Escape preconditions present", "preconditions_present", ("exposure",)),
)
EXPOSURE = (
    ("Where the calls land", "exposure.lands"),
    ("Kernel seen inside", "exposure.kernel"),
    ("Namespaces shared with the host", "exposure.namespaces_shared"),
    ("Capabilities of root inside", "exposure.capabilities"),
    ("Seccomp, no_new_privs (probe)", "exposure.seccomp"),
    ("User namespace (uid map)", "exposure.uid_map"),
    ("Escape preconditions", "exposure.preconditions"),
    ("Calls denied", "exposure.denied"),
    ("Calls never made", "exposure.not_probed"),
)
# Facts only some trials record: what their cell says where none did.
UNRECORDED = {"network_path": "no network workload ran", "boot_profile": "—", "runtime": "—"}
# Ratio columns, (top, bottom), each shown where both platforms ran: a VM over a container on
# the host; the container host put in a VM over the same container on the host (what a cloud
# user pays for it), and over the VM alone (what the engine and container add inside it).
RATIOS = (("vm", "docker"), ("vm-docker", "docker"), ("vm-docker", "vm"))

@dataclass(frozen=True)
class Cell:
    """One cell of a report's table: its figure, what qualifies it, and a CSS shade by size
    (the Noisy neighbours matrix: d0 … d3, dnr)."""
    main: str
    detail: str = ""
    shade: str = ""


@dataclass(frozen=True)
class Row:
    section: str
    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class VerdictTable:
    run_id: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


def platforms(run: LoadedRun) -> list[str]:
    present = set(run.suite.platforms) | {r.platform for r in run.records}
    return sorted(present, key=lambda p: (registry.order(p), p))


def column_name(platform: str, run: LoadedRun) -> str:
    return platform_label(platform, "+".join(sorted(run.vm_accels)))


def _measured_cell(run: LoadedRun, workload: str, metric: str, platform: str) -> Cell:
    row = run.row(workload, metric, platform)
    if row is None:
        return Cell("not measured")
    detail = f"95% CI {units.interval(row.ci_low, row.ci_high, row.unit, row.median)}, n={row.n}"
    if units.below_resolution(row.unit, row.better, row.median, row.ci_low, row.ci_high):
        return Cell(units.figure(row.median, row.ci_low, row.ci_high, row.unit, row.better),
                    f"median {units.human(row.median, row.unit)}, {detail}")
    if platform != "native" and row.has_ratio:
        detail += (f"; {units.ratio(row.ratio_to_native)} native "
                   f"{units.ratio_interval(row.ratio_ci_low, row.ratio_ci_high)}")
    return Cell(units.human(row.median, row.unit), detail)


@dataclass(frozen=True)
class Ratio:
    value: float
    low: float
    high: float

    def text(self) -> str:
        return f"{units.ratio(self.value)} (95% CI {units.ratio_interval(self.low, self.high)})"


def ratio_between(run: LoadedRun, workload: str, metric: str, top: str, bottom: str,
                  dimensions: str = "", bottom_dimensions: str | None = None) -> Ratio | None:
    """Median of `top` over median of `bottom`, with the 95% interval of that ratio (stats.ratio_ci);
    the bottom's figure at its own dimensions when given (native's network path is its own)."""
    below = dimensions if bottom_dimensions is None else bottom_dimensions
    a, b = run.values_of(workload, metric, top, dimensions), run.values_of(workload, metric, bottom, below)
    if not a or not b or stats.median(b) <= 0 or stats.median(a) <= 0:
        return None
    interval = stats.ratio_ci(a, b)
    return Ratio(stats.median(a) / stats.median(b), interval.low, interval.high)


def _ratio_cell(run: LoadedRun, workload: str, metric: str, top: str, bottom: str) -> Cell:
    ratio = ratio_between(run, workload, metric, top, bottom)
    if ratio is None:
        return Cell("—")
    return Cell(units.ratio(ratio.value), f"95% CI {units.ratio_interval(ratio.low, ratio.high)}")


def _facts(run: LoadedRun, platform: str) -> dict[str, str]:
    """The platform's facts: its first trial's, and a fact only some workloads record
    (network_path) from one that did."""
    facts: dict[str, str] = {}
    for record in reversed(run.counted):  # the first trial's facts are applied last: they win
        if record.platform == platform:
            facts.update(record.facts)
    return facts


def _resources(facts: dict[str, str]) -> str:
    if "cpus" not in facts:
        return "not recorded"
    return f"{facts['cpus']} CPU (cpuset {facts.get('cpuset', '?')}), {facts.get('memory_mib', '?')} MiB"


def _build_cell(images: dict, platform: str) -> Cell:
    seconds = images.get("build_seconds")
    if not seconds:
        return Cell("not recorded")
    known = registry.known(platform)
    steps = known.build_steps if known else ()
    timed = {step: seconds[step] for step in steps if step in seconds}
    untimed = [step for step in steps if step not in seconds]
    detail = " + ".join(f"{step} {units.human(value, 's')}" for step, value in timed.items())
    if untimed:
        detail += f" ({', '.join(untimed)}: done by an earlier build, not timed)"
    return Cell(units.human(sum(timed.values()), "s"), detail)


def _artifact_cell(images: dict, platform: str) -> Cell:
    known = registry.known(platform)
    if known is None:
        return Cell("not recorded")
    if known.artifact == "app_images":
        apps = images.get("app_images", {})
        if not apps:
            return Cell("not recorded")
        return Cell(f"{len(apps)} images, one per workload",
                    ", ".join(f"{w} {units.bytes_(a['bytes'])}" for w, a in sorted(apps.items())))
    name = known.artifact
    sha = images.get("artifacts", {}).get(name, "")
    if not sha:
        return Cell("not recorded")
    size = images.get("bytes", {}).get(name)
    return Cell(sha.removeprefix("sha256:")[:16], f"{name}" + (f", {units.bytes_(size)}" if size else ""))


def _image_format(platform: str) -> str:
    known = registry.known(platform)
    return known.image_format if known else "?"


def measured(run: LoadedRun, metric: str, workloads: tuple[str, ...], instead: str = "") -> tuple[str, str] | None:
    """The workload (the first of `workloads` that has it, else any) and the metric a row shows:
    `metric`, or `instead` in an older run that has none of it."""
    for name in (metric, instead) if instead else (metric,):
        if (workload := run.workload_with(name, workloads)) is not None:
            return workload, name
    return None


def verdict(run: LoadedRun) -> VerdictTable:
    shown = platforms(run)
    ratios = [(top, bottom) for top, bottom in RATIOS if top in shown and bottom in shown]
    columns = [column_name(p, run) for p in shown] + [f"{column_name(top, run)} ÷ {column_name(bottom, run)}"
                                                       for top, bottom in ratios]
    rows: list[Row] = []
    for measure in MEASURES:
        if (found := measured(run, measure.metric, measure.workloads, measure.instead)) is None:
            continue
        workload, metric = found
        cells = [_measured_cell(run, workload, metric, p) for p in shown]
        cells += [_ratio_cell(run, workload, metric, top, bottom) for top, bottom in ratios]
        rows.append(Row("Measured", f"{measure.label} ({workload})", tuple(cells)))
    blank = (Cell(""),) * len(ratios)
    facts = {p: _facts(run, p) for p in shown}
    rows.append(Row("Isolation", "Resources given", tuple(Cell(_resources(facts[p])) for p in shown) + blank))
    for label, key in ISOLATION:
        rows.append(Row("Isolation", label, tuple(Cell(facts[p].get(key, UNRECORDED.get(key, "not recorded"))) for p in shown) + blank))
    exposure = run.workload_with(SECURITY[0].metric, SECURITY[0].workloads)
    if exposure is not None:
        for measure in SECURITY:
            rows.append(Row("Security exposure", measure.label, tuple(
                _measured_cell(run, exposure, measure.metric, p) for p in shown) + blank))
        for label, key in EXPOSURE:
            rows.append(Row("Security exposure", label, tuple(Cell(facts[p].get(key, "not probed")) for p in shown) + blank))
    images = run.info.images
    rows.append(Row("Portability", "Image format", tuple(Cell(_image_format(p)) for p in shown) + blank))
    rows.append(Row("Image automation", "Build time (bench images build)",
                    tuple(_build_cell(images, p) for p in shown) + blank))
    rows.append(Row("Image automation", "Artifact sha256",
                    tuple(_artifact_cell(images, p) for p in shown) + blank))
    return VerdictTable(run.run_id, tuple(columns), tuple(rows))
