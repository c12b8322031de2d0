"""The report's first screen: each row of the classic VMs-versus-containers table as the claim
is commonly stated, what this run measured, and a verdict derived from those figures.

Verdicts: "confirmed", "contradicted", "partly" (holds for one part of the claim, not the
other), "not measurable here" (with why: e.g. VMs under TCG emulation, or the run did not
measure it). The words depend only on the run's data, so the same run reads the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bench.definitions.workload import USERSPACE_METRIC
from bench.model.trial import SCORE
from bench.model import registry, units
from bench.model.registry import label
from bench.report import portability
from bench.report.verdict import Ratio, platforms, ratio_between
from bench.rundir.runs import LoadedRun

CONFIRMED, CONTRADICTED, PARTLY, UNMEASURED = "confirmed", "contradicted", "partly", "not measurable here"
CLEARLY_SLOWER = 1.5  # "takes longer" means at least this factor, not a rounding difference
NO_CPU_LOSS = 0.97  # a container "loses no CPU" when its score is at least this share of native's


@dataclass(frozen=True)
class Finding:
    topic: str
    claim: str
    measured: str  # every figure it rests on
    verdict: str
    why: str = ""
    line: str = ""  # the deciding figures in one short sentence: what the report's first screen shows

    @property
    def headline(self) -> str:
        return self.line or self.why

    @property
    def method(self) -> str:
        return METHODS.get(self.topic, "")


# How each topic's figures were measured: what the report folds under a finding beside its claim.
METHODS = {
    "Boot time": "Time to ready: from just before the harness's first create call to the READY line the "
                 "instance's launcher prints, on the host's monotonic clock (workload boot).",
    "Disk": "Image on disk: the bytes each platform's artifact occupies (a container image's layers; the VM's "
            "kernel, initramfs and disk), as `bench images build` made it from the one root filesystem.",
    "Memory": "Idle memory: the PSS of every host process the instance owns (a VM's QEMU included), once it "
              "has settled after READY (workload idle).",
    "CPU": "CPU: sysbench's prime search on one pinned CPU (workload cpu), each platform's median score over "
           "native's with the interval of that ratio.",
    "Isolation": "Isolation: the exposure probe runs as root inside each instance and tries every system call "
                 "once; a call counts as the host kernel's only where the instance runs on the host's kernel.",
    "Portability": "Portability: the same user space, proven by hello's dpkg digest (or a user image's tree "
                   "hash) on every platform; the portability suite moves each artifact to every runtime, engine, "
                   "kernel, machine model, firmware and disk format the host has; a move between hosts needs a "
                   "history of several hosts.",
    "Image automation": "Image automation: the seconds each artifact's last build step took in `bench images "
                        "build`, all from the one root filesystem.",
}


class _Reader:
    """What one run measured, in the words the findings use."""

    def __init__(self, run: LoadedRun):
        self.run = run
        self.shown = platforms(run)
        accels = sorted(run.vm_accels)
        self.accel = "+".join(accels)
        self.tcg = "tcg" in accels

    def name(self, platform: str) -> str:
        return label(platform, self.accel)

    def value(self, workload: str | None, metric: str, platform: str) -> str | None:
        if workload is None:
            return None
        row = self.run.row(workload, metric, platform)
        if row is None:
            return None
        figure = units.figure(row.median, row.ci_low, row.ci_high, row.unit, row.better)
        return f"{figure} ({self.name(platform)})"

    def workload(self, metric: str, preferred: tuple[str, ...]) -> str | None:
        return self.run.workload_with(metric, preferred)

    def tcg_reason(self, because: str = "their figures measure an emulator") -> str:
        return f"the VMs ran under TCG emulation, not KVM, so {because}; run on a host with working KVM to test this"


def _join(parts: list[str | None]) -> str:
    return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class _Pair:
    """A metric measured on both a container and a VM: the figures and their ratio."""
    workload: str
    measured: str
    ratio: Ratio | None


def _vm_and_container(r: _Reader, topic: str, claim: str, metric: str, preferred: tuple[str, ...], lead: str,
                      compared: str) -> Finding | _Pair:
    w = r.workload(metric, preferred)
    figures = _join([r.value(w, metric, p) for p in r.shown])
    if w is None or "docker" not in r.shown or "vm" not in r.shown:
        return Finding(topic, claim, figures or f"{lead}: not measured on both a container and a VM", UNMEASURED,
                       "the run did not measure both a container and a VM")
    ratio = ratio_between(r.run, w, metric, "vm", "docker")
    return _Pair(w, f"{lead}: {figures}." + (f" The VM {compared} {ratio.text()} the container's." if ratio else ""),
                 ratio)


def _boot(r: _Reader) -> Finding:
    claim = "A container starts in milliseconds, a VM in seconds."
    pair = _vm_and_container(r, "Boot time", claim, "boot_s", ("boot",), "Time to READY", "took")
    if isinstance(pair, Finding):
        return pair
    w, measured, ratio = pair.workload, pair.measured, pair.ratio
    docker, vm = r.run.median(w, "boot_s", "docker"), r.run.median(w, "boot_s", "vm")
    line = _pair_line(r, "ready in", docker, vm, "s", ratio)
    if r.tcg:
        if docker is not None and docker < 1:
            return Finding("Boot time", claim, measured, PARTLY,
                           f"the container part holds ({units.human(docker, 's')}); the VM part is not measurable "
                           f"here: {r.tcg_reason()}", line)
        return Finding("Boot time", claim, measured, UNMEASURED, r.tcg_reason(), line)
    if ratio is None or docker is None or vm is None:
        return Finding("Boot time", claim, measured, UNMEASURED, "no ratio could be formed")
    if ratio.low > 1 and docker < 1 <= vm:
        return Finding("Boot time", claim, measured, CONFIRMED, line=line)
    if ratio.low > 1:
        return Finding("Boot time", claim, measured, PARTLY,
                       f"the container is faster, but the VM started in {units.human(vm, 's')}", line)
    return Finding("Boot time", claim, measured, CONTRADICTED, "the VM was not slower beyond the interval", line)


def _pair_line(r: _Reader, verb: str, docker: float | None, vm: float | None, unit: str,
               ratio: Ratio | None) -> str:
    """"docker ready in 312 ms, vm-minimal/tcg in 5.53 s: 17.7× [16.9×, 18.6×] (TCG, an emulator)"."""
    if docker is None or vm is None:
        return ""
    told = f"docker {verb} {units.human(docker, unit)}, {r.name('vm')} {units.human(vm, unit)}"
    if ratio is not None:
        told += f": {_figure(ratio)}"
    return told + (" (TCG: an emulator)" if r.tcg else "")


def _disk(r: _Reader) -> Finding:
    claim = ("A container needs only the application's requirements on disk; a VM the full OS plus "
             "the application.")
    w = r.workload("image_mib", ("cpu", "boot", "idle"))
    images = {p: r.run.median(w, "image_mib", p) for p in r.shown} if w else {}
    figures = _join([f"{units.human(v, 'MiB')} ({_image_name(r, p)})" for p, v in images.items() if v is not None])
    vm, full, app = images.get("vm"), images.get("docker"), images.get("docker-app")
    if vm is None or (full is None and app is None):
        return Finding("Disk", claim, figures or "no image sizes of both kinds in this run", UNMEASURED,
                       "the run measured no VM image and container image side by side")
    measured = f"Image on disk for the {w} workload: {figures}."
    line = "Image on disk: " + _join([f"{label(p)} {units.human(v, 'MiB')}"
                                      for p, v in (("vm", vm), ("docker", full), ("docker-app", app)) if v is not None])
    parts = []
    if full is not None:
        parts.append(f"a full-OS container image is {units.ratio(vm / full)} smaller than the VM's")
    if app is not None:
        parts.append(f"an application-only one {units.ratio(vm / app)} smaller")
    measured += " " + _sentence(" and ".join(parts)) + "."
    # The claim is about what a container holds: true of an application-only image, and only
    # of one: a container built from a full OS carries that OS too.
    if app is not None and app < vm / 2:
        if full is not None and full >= vm / 2:
            return Finding("Disk", claim, measured, PARTLY,
                           "true of an application-only image; a container built from the same full OS is "
                           "nearly as large as the VM's image, which adds a kernel", line)
        return Finding("Disk", claim, measured, CONFIRMED, line=line)
    if app is None:
        return Finding("Disk", claim, measured, UNMEASURED,
                       "only a full-OS container image was measured; run the docker-app platform to test the "
                       "claim as stated", line)
    return Finding("Disk", claim, measured, CONTRADICTED, "the application-only image is not much smaller", line)


def _image_name(r: _Reader, platform: str) -> str:
    known = registry.known(platform)
    return known.image_name if known else r.name(platform)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _memory(r: _Reader) -> Finding:
    claim = "A container takes only its processes' memory; a VM its guest's memory plus the hypervisor's."
    pair = _vm_and_container(r, "Memory", claim, r.run.idle_memory_metric, ("idle",),
                             "Host memory (PSS) of one idle instance", "held")
    if isinstance(pair, Finding):
        return pair
    measured, ratio = pair.measured, pair.ratio
    metric = r.run.idle_memory_metric
    line = _pair_line(r, "idle held", r.run.median(pair.workload, metric, "docker"),
                      r.run.median(pair.workload, metric, "vm"), "MiB", ratio)
    if r.tcg:
        return Finding("Memory", claim, measured, UNMEASURED,
                       r.tcg_reason("their memory includes the emulator's translation cache"), line)
    if ratio is None:
        return Finding("Memory", claim, measured, UNMEASURED, "no ratio could be formed")
    return Finding("Memory", claim, measured, CONFIRMED if ratio.low > 1 else CONTRADICTED, line=line)


def _cpu(r: _Reader) -> Finding:
    claim = "A container loses no CPU throughput; a VM with hardware virtualisation loses little."
    w = r.workload("score", ("cpu",))
    if w is None or "native" not in r.shown:
        return Finding("CPU", claim, "no CPU score with a native baseline in this run", UNMEASURED,
                       "the run did not measure native and the others on a CPU workload")
    ratios = {p: ratio for p in r.shown if p != "native"
              if (ratio := ratio_between(r.run, w, "score", p, "native")) is not None}
    row = r.run.row(w, "score", "native")
    native = units.human(row.median, row.unit) if row is not None else "not measured"
    measured = (f"{w} score of native: {native}; relative to native: "
                f"{_join([f'{r.name(p)} {ratio.text()}' for p, ratio in ratios.items()])}.")
    plain = [p for p in ratios if registry.family(p) == "container"]
    sandboxed = [p for p in ratios if registry.family(p) == "sandboxed"]
    if not plain and not sandboxed:
        return Finding("CPU", claim, measured, UNMEASURED, "no container ran the CPU workload")
    # The claim is about containers on a plain runtime; a sandbox (gVisor) is judged beside them.
    judged = plain or sandboxed
    lossless = all(_lost_nothing(ratios[p]) for p in judged)
    line = "Score ÷ native: " + _join([_span(r, ratios, plain, "containers"), _span(r, ratios, sandboxed, "sandboxed"),
                                      _span(r, ratios, [p for p in ratios if p not in plain + sandboxed], "")])
    parts = [_cpu_group(r, ratios, plain, "plain-runtime containers"), _cpu_group(r, ratios, sandboxed, "")]
    vm = ratios.get("vm")
    if vm is not None and r.tcg:
        parts.append("the VM part is not measurable here: " + r.tcg_reason())
        return Finding("CPU", claim, measured, PARTLY if lossless else CONTRADICTED, "; ".join(filter(None, parts)),
                       line)
    if not lossless:
        return Finding("CPU", claim, measured, CONTRADICTED, "; ".join(filter(None, parts)), line)
    if vm is not None and vm.value < NO_CPU_LOSS - 0.07:
        parts.append(f"{r.name('vm')} lost more than a little: {_lost(vm)}")
        return Finding("CPU", claim, measured, PARTLY, "; ".join(filter(None, parts)), line)
    if vm is not None:
        parts.append(f"{r.name('vm')} lost little: {_lost(vm)}")
    return Finding("CPU", claim, measured, CONFIRMED, "; ".join(filter(None, parts)), line)


def _span(r: _Reader, ratios: dict[str, Ratio], group: list[str], name: str) -> str:
    """A group's ratios in a few words: "containers 0.97–1.01×"; without a name, each platform's
    own: "vm-minimal/tcg 0.112× (TCG)"."""
    if not group:
        return ""
    if not name:
        return ", ".join(f"{r.name(p)} {units.ratio(ratios[p].value)}"
                         + (" (TCG)" if r.tcg and registry.family(p) == "vm" else "") for p in group)
    values = [ratios[p].value for p in group]
    ends = dict.fromkeys(units.ratio(v) for v in (min(values), max(values)))  # one when they read the same
    return f"{name} {'–'.join(ends)}"


def _lost_nothing(ratio: Ratio) -> bool:
    return ratio.high >= 1 or ratio.value >= NO_CPU_LOSS


def _figure(ratio: Ratio) -> str:
    return f"{units.ratio(ratio.value)} {units.ratio_interval(ratio.low, ratio.high)}"


def _lost(ratio: Ratio) -> str:
    return f"{(1 - ratio.value) * 100:.1f} % ({_figure(ratio)})"


def _cpu_group(r: _Reader, ratios: dict[str, Ratio], group: list[str], name: str) -> str:
    """"plain-runtime containers lost nothing (docker 0.985× [0.968×, 1.03×])", then each that
    lost: "gvisor lost 3.5 % (0.965× [0.937×, 0.997×])". Without a name (the sandboxes), every
    platform is told on its own."""
    kept = [p for p in group if _lost_nothing(ratios[p])]
    said = []
    if kept and name:
        said.append(f"{name} lost nothing (" + ", ".join(f"{r.name(p)} {_figure(ratios[p])}" for p in kept) + ")")
    elif kept:
        said += [f"{r.name(p)} lost nothing beyond noise ({_figure(ratios[p])})" for p in kept]
    said += [f"{r.name(p)} lost {_lost(ratios[p])}" for p in group if p not in kept]
    return "; ".join(said)


@dataclass(frozen=True)
class _Exposure:
    """One platform's exposure figures (medians over its exposure trials) and where its calls land."""
    host_calls: int
    reachable: int
    probed: int
    capabilities: int
    preconditions: int
    lands: str

    def beats(self, other: _Exposure) -> bool:
        """Reaches less of the host: fewer host-kernel calls, or as few and fewer preconditions."""
        return (self.host_calls, self.preconditions) < (other.host_calls, other.preconditions)


def _exposures(r: _Reader, workload: str) -> dict[str, _Exposure]:
    found = {}
    for platform in r.shown:
        medians = [r.run.median(workload, m, platform) for m in EXPOSURE_METRICS]
        if any(m is None for m in medians):
            continue
        record = r.run.first_counted(platform, workload)
        lands = record.facts.get("exposure.lands", "not recorded") if record else "not recorded"
        found[platform] = _Exposure(*(round(m) for m in medians), lands=lands)  # type: ignore[arg-type]
    return found


EXPOSURE_METRICS = ("syscalls_host_reachable", "syscalls_reachable", "syscalls_probed", "capabilities_held",
                    "preconditions_present")


def _isolation(r: _Reader) -> Finding:
    claim = "Security by default: a VM isolates better than a container, which shares the host's kernel."
    w = r.workload("syscalls_host_reachable", ("exposure",))
    if w is None:
        return Finding("Isolation", claim, "The exposure probe did not run in this run.", UNMEASURED,
                       "which kernel an instance had says nothing of what it can reach: run the exposure workload")
    found = _exposures(r, w)
    measured = "The exposure probe, as root inside each instance: " + "; ".join(
        f"{r.name(p)} reached {e.host_calls} of the host kernel's system calls ({e.reachable} of {e.probed} "
        f"probed calls reachable, landing in {e.lands.split(';')[0]}), held {e.capabilities} capabilities, "
        f"{e.preconditions} escape preconditions" for p, e in found.items()) + "."
    vms = [p for p in found if registry.family(p) == "vm"]
    plain = [p for p in found if registry.family(p) == "container"]
    sandboxed = [p for p in found if registry.family(p) == "sandboxed"]
    if not vms or not (plain or sandboxed):
        return Finding("Isolation", claim, measured, UNMEASURED, "the probe did not run on both a VM and a container")

    def told(group: list[str]) -> str:
        return ", ".join(f"{r.name(p)} {found[p].host_calls} calls, {found[p].preconditions} preconditions"
                         for p in group)

    vm_side = f"VMs reach the host kernel with {told(vms)} (their calls end in their own kernels)"
    plain_holds = all(found[v].beats(found[c]) for v in vms for c in plain)
    sandbox_holds = all(found[v].beats(found[c]) for v in vms for c in sandboxed)
    parts = [vm_side]
    if plain:
        parts.append(f"plain-runtime containers with {told(plain)}")
    if sandboxed:
        parts.append(f"sandboxed containers with {told(sandboxed)}"
                     + ("" if sandbox_holds else ": their calls end in a kernel of the sandbox's own, as a VM's do"))
    why = "; ".join(parts)
    line = "System calls reaching the host kernel: " + _join(
        [_calls(found, group, name) for group, name in ((vms, "VMs"), (plain, "containers"), (sandboxed, "sandboxed"))])
    if plain and not plain_holds or not plain and not sandbox_holds:
        return Finding("Isolation", claim, measured, CONTRADICTED, why, line)
    if sandboxed and not sandbox_holds:
        return Finding("Isolation", claim, measured, PARTLY,
                       why + "; the claim holds against plain-runtime containers, not against a sandboxed one", line)
    return Finding("Isolation", claim, measured, CONFIRMED, why, line)


def _calls(found: dict[str, _Exposure], group: list[str], name: str) -> str:
    if not group:
        return ""
    counts = sorted(found[p].host_calls for p in group)
    return f"{name} {counts[0]}" + (f"–{counts[-1]}" if counts[-1] != counts[0] else "")


def _portability(r: _Reader) -> Finding:
    claim = "A container image runs on any host with a container engine; a VM image needs a hypervisor."
    packaged = "; ".join(f"{r.name(p)}: {_image_name(r, p)}" for p in r.shown)
    printed: dict[str, set[str]] = {}
    for key, values in r.run.equal_values.items():
        if key.workload == "hello" and key.metric == SCORE:
            printed.setdefault(label(key.platform, key.accel), set()).update(values)
    distinct = set().union(*printed.values()) if printed else set()
    same = (f"the same hello digest on {len(printed)} platforms" if len(distinct) == 1 else
            f"DIFFERENT hello digests on {len(printed)} platforms" if printed else "")
    if not printed:
        measured = f"The images of one root filesystem, packaged as: {packaged}."
    elif len(distinct) == 1:
        measured = (f"Every platform printed the same hello digest ({units.digest(next(iter(distinct)))}): the same "
                    f"user space ran on each, packaged as: {packaged}.")
    else:
        measured = ("The platforms printed different hello digests (" + "; ".join(
            f"{name} {', '.join(units.digest(d) for d in sorted(found))}" for name, found in sorted(printed.items()))
            + f"): they did not all run the same user space. Packaged as: {packaged}.")
    measured += "".join(f" {sentence}" for sentence in _user_spaces(r))
    moved = portability.summarise(portability.moves(r.run))
    if moved.converted and moved.unchanged[portability.CONTAINER_IMAGE] >= 2:
        return _moved(claim, measured, moved)
    line = "One host cannot show it" + (f"; {same}" if same else "")
    return Finding("Portability", claim, measured, UNMEASURED,
                   "the run moved no artifact between runtimes and disk formats (the portability suite does); "
                   "the image formats and what each needs are listed below", line)


def _moved(claim: str, measured: str, moved: portability.Summary) -> Finding:
    """The portability suite's verdict: what moved unchanged, what needed a conversion, what failed."""
    images, disks = moved.unchanged[portability.CONTAINER_IMAGE], moved.unchanged[portability.VM_DISK]
    what = (f"The container image ran unchanged on {images} targets, the VM disk unchanged on {disks} machine and "
            f"firmware combinations and, converted, from {', '.join(moved.converted)}")
    failed = f"; failed: {'; '.join(moved.failed)}" if moved.failed else ""
    measured = f"{measured} {what}{failed}."
    line = f"Image unchanged on {images} targets, disk on {disks}, converted to {len(moved.converted)} formats"
    if not moved.same_user_space:
        return Finding("Portability", claim, measured, CONTRADICTED,
                       "the targets did not all run the same user space", line + "; DIFFERENT user space")
    if moved.failed:
        return Finding("Portability", claim, measured, PARTLY,
                       f"{len(moved.failed)} target(s) failed to run their artifact", line + f"; {len(moved.failed)} failed")
    return Finding("Portability", claim, measured, CONFIRMED,
                   "the container image moved between runtimes, engines and kernels as it is; the VM disk between "
                   "machine models and firmware as it is, to another hypervisor's format only by a conversion",
                   line + "; same user space everywhere")


def _user_spaces(r: _Reader) -> list[str]:
    """For each workload from a user's image: whether every platform's tree probe saw that image."""
    seen: dict[str, dict[str, set[str]]] = {}
    for key, values in r.run.equal_values.items():
        if key.metric == USERSPACE_METRIC:
            seen.setdefault(key.workload, {}).setdefault(label(key.platform, key.accel), set()).update(values)
    built = r.run.info.user_images
    sentences = []
    for workload, by_platform in sorted(seen.items()):
        image = built.get(workload, {})
        source = f"the image {image.get('source', '?')} ({units.digest(image.get('id', '?').removeprefix('sha256:'))})"
        distinct = set().union(*by_platform.values())
        if len(distinct) == 1 and distinct == {image.get("tree_sha256")}:
            sentences.append(f"{workload}, from {source}: the same user space on {len(by_platform)} platforms "
                             f"(tree hash {units.digest(distinct.pop())}, the image's as flattened on the host).")
        else:
            sentences.append(f"{workload}, from {source}: NOT the same user space everywhere (" + "; ".join(
                f"{name} {', '.join(units.digest(d) for d in sorted(found))}" for name, found in sorted(by_platform.items()))
                + f"; the image's: {units.digest(image.get('tree_sha256', '?'))}).")
    return sentences


def _automation(r: _Reader) -> Finding:
    claim = "Container images are built by automation in seconds; VM images take longer."
    seconds = r.run.info.images.get("build_seconds") or {}
    steps = {p: seconds.get(registry.BY_NAME[p].build_steps[-1]) for p in ("docker", "docker-app", "vm")}
    known = {p: s for p, s in steps.items() if s is not None}
    measured = ("From the one root filesystem (bootstrap "
                + (units.human(seconds["bootstrap"], "s") if "bootstrap" in seconds else "not timed") + "): "
                + (_join([f"{_image_name(r, p)} {units.human(s, 's')}" for p, s in known.items()])
                   or "no step timed") + ".")
    if "vm" not in known or not ({"docker", "docker-app"} & known.keys()):
        return Finding("Image automation", claim, measured, UNMEASURED,
                       "the images were built by an earlier `bench images build`, whose steps were not all timed")
    container = min(s for p, s in known.items() if p != "vm")
    slower = known["vm"] / container if container > 0 else math.inf
    line = "Last build step: " + _join([f"{label(p)} {units.human(s, 's')}" for p, s in known.items()])
    if slower >= CLEARLY_SLOWER:
        return Finding("Image automation", claim, measured, CONFIRMED,
                       f"the VM image's last step took {units.ratio(slower)} the container's", line)
    if slower > 1:
        return Finding("Image automation", claim, measured, PARTLY,
                       f"every image here is built by one command in seconds; the VM's last step only "
                       f"{units.ratio(slower)} the container's", line)
    return Finding("Image automation", claim, measured, CONTRADICTED,
                   "the VM image was built as fast as the container image", line)


FINDINGS: tuple[Callable[[_Reader], Finding], ...] = (_boot, _disk, _memory, _cpu, _isolation, _portability,
                                                      _automation)


def findings(run: LoadedRun) -> list[Finding]:
    reader = _Reader(run)
    return [make(reader) for make in FINDINGS]


def text(run: LoadedRun) -> str:
    """The findings as terminal lines: topic, verdict and why."""
    return "\n".join(f"{f.topic}: {f.verdict}" + (f" — {f.why}" if f.why else "") for f in findings(run))
