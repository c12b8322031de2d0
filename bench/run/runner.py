"""`bench run`: the scheduler's plan executed trial by trial, each recorded as it ends.

The plan (bench/run/schedule.py) is fixed before the first trial and stored in run.json, so
`--resume` runs exactly the trials that have no record yet (or whose record says aborted).
An interrupt records the trial in flight as aborted after its teardown, keeps everything
recorded so far, and writes the summary of what there is.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path


from bench.analysis import summary
from bench.analysis.summary import Summary
from bench.definitions import interference, workload as workloads
from bench.analysis.noisefloor import NoiseFloor, precision_warnings
from bench.definitions.hostprofile import HostProfile
from bench.definitions.suite import Suite
from bench.errors import BenchError
from bench.host import leases
from bench.host.engines import docker_client
from bench.images import engine_disk, manifest as manifests, user_image
from bench.images.user_image import UserImage
from bench.model import registry
from bench.model.resources import Resources, allot, keep_harness_apart, place_pair
from bench.model.trial import PlannedTrial, TrialRecord
from bench.operations import accel as accelerators, cleanup
from bench.platforms import preflight
from bench.platforms.base import Driver, TrialContext
from bench.probes import engines, noisefloor
from bench.probes.disturbance import DISTURBED_PCT
from bench.progress import Progress
from bench.net import clients
from bench.run import precision, provenance, schedule
from bench.run.density import run_density
from bench.run.interference import run_interference
from bench.run.frame import signals_deferred
from bench.run.schedule import estimate_s
from bench.run.trial import new_run_id, run_trial
from bench.rundir.info import Resumption, RunInfo
from bench.rundir.results import RunDir, finished_seqs
from bench.rundir.runs import LoadedRun


def refuse_leftovers() -> None:
    if busy := cleanup.in_progress():
        raise BenchError(f"another run is in progress on this host ({', '.join(busy)}): its load would "
                         "distort this run's figures; wait for it, or pass --ignore-leftovers")
    found = cleanup.leftovers(require_engines=False)  # an engine that is down holds nothing that runs
    if found:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise BenchError(f"leftovers of another run exist ({shown}): run `bench clean`, "
                         "or pass --ignore-leftovers")


def start(suite: Suite, root: Path, progress: Progress, accel: str = "auto",
          ignore_leftovers: bool = False, profile: HostProfile | None = None,
          tuned: dict[str, str] | None = None) -> Finished:
    if not ignore_leftovers:
        refuse_leftovers()
    preflight(suite.platforms, networked(suite))
    images = _images_for(suite, progress)
    skips = schedule.image_skips(suite, images.loaded)
    for line in schedule.skip_lines(skips):
        progress.note(line)
    suite = schedule.without(suite, skips)
    plan = schedule.plan(suite, schedule.once(images.loaded))
    run_id = new_run_id()
    info = RunInfo(run_id=run_id, suite=suite, seed=suite.seed, accel_requested=accel, plan=plan,
                   kinds={name: w.kind for name, w in sorted(images.loaded.items())},
                   host_profile=profile.to_json() if profile else None, tuned=tuned,
                   **provenance.describe(suite.platforms, images.manifest, images.engine, images.user_images,
                                        images.user_engines))
    served = [w for w in images.loaded.values() if w.client is not None]
    if served:
        info.versions["host clients"] = clients.tool_versions(served)
    run = RunDir.create(root, info)
    progress.note(f"run {run_id}: {len(plan)} trials, results in {run.path}")
    return Execution(run, info, images, progress).execute(accel)


def networked(suite: Suite) -> tuple[str, ...]:
    """The suite's platforms that run one of its network workloads."""
    network = [name for name, w in interference.load_for_run(suite.workloads).items() if w.network]
    return tuple(p for p in suite.platforms if any(suite.runs(p, w) for w in network))


def dry_run(suite: Suite, accel: str = "auto") -> str:
    """The plan and its estimated duration; nothing is started or probed, but what a run
    would refuse before its first trial is refused here too."""
    preflight(suite.platforms, networked(suite))
    loaded = interference.load_for_run(suite.workloads)
    if accel != "auto":
        vm_accel, note = accel, f"under {accel} (--accel)"
    elif (verdict := accelerators.cached()) is not None and verdict.chosen is not None:
        vm_accel, note = verdict.chosen.accel, f"under {verdict.chosen.accel} (this boot's doctor verdict)"
    else:
        vm_accel, note = "tcg", "assumed under tcg: no doctor verdict for this boot yet"
    skips = schedule.image_skips(suite, loaded)
    suite = schedule.without(suite, skips)
    text = schedule.plan_text(suite, schedule.plan(suite, schedule.once(loaded)), loaded, vm_accel, note)
    return "\n".join([*schedule.skip_lines(skips), text])


def suite_of(path: Path) -> Suite:
    """The suite of a run directory to resume."""
    return RunDir.open(path).info().suite


def resume(path: Path, progress: Progress, ignore_leftovers: bool = False,
           tuned: dict[str, str] | None = None) -> Finished:
    run = RunDir.open(path)
    info = run.info()
    if tuned is not None:
        info.tuned = tuned
    suite = info.suite
    images = _images_for(suite, progress)
    if images.manifest.key != info.image_key:
        raise BenchError(f"{path}: its images ({info.image_key[:12]}) are not the current ones "
                         f"({images.manifest.key[:12]}); rebuilding changed them, so the run cannot continue")
    recorded = {w: i["id"] for w, i in info.user_images.items()}
    if recorded != {w: u.id for w, u in images.user_images.items()}:
        raise BenchError(f"{path}: a workload's user image is not the one the run started with, so it cannot continue")
    if not ignore_leftovers:
        refuse_leftovers()
    preflight(suite.platforms, networked(suite))
    run.drop_partial_line()
    info.resumed.append(Resumption(time.strftime("%Y-%m-%dT%H:%M:%S%z"), provenance.command_line()))
    run.write_info(info)
    return Execution(run, info, images, progress).execute(info.accel_requested)


@dataclass(frozen=True)
class RunImages:
    """What a run's trials start from: the built images and the workloads they hold."""

    manifest: manifests.Manifest
    loaded: dict[str, workloads.Workload]
    engine: engine_disk.EngineDisk | None  # vm-docker's disk, with vm-docker in the suite
    user_images: dict[str, UserImage]  # workload → the user's image it runs from
    user_engines: dict[str, engine_disk.EngineDisk]  # workload → vm-docker's disk of its user image


def _images_for(suite: Suite, progress: Progress) -> RunImages:
    """The current images, which must hold every workload of the suite, and the workloads; a
    user's image flattened for its workloads and vm-docker's disk, made now if not cached
    (before the run exists)."""
    manifest = manifests.load()
    loaded = interference.load_for_run(suite.workloads)
    for workload in loaded.values():
        for part in interference.resolve(workload).parts() if workload.kind_traits.composite else [workload]:
            if not part.user_image:
                manifest.require(part)
    clients.require(list(loaded.values()))
    users = user_image.ensure(list(loaded.values()), manifest.arch, progress)
    on_engine = {w for p in suite.platforms if registry.get(p).boot_profile == "docker"
                 for w in loaded if suite.runs(p, w)}
    engine = None
    if on_engine - set(users):
        engine = engine_disk.ensure(docker_client(), manifest, progress)
    user_engines = {w: engine_disk.ensure_for_user_image(users[w], manifest, progress)
                    for w in sorted(on_engine & set(users))}
    return RunImages(manifest, loaded, engine, users, user_engines)


def current_records(records: list[TrialRecord]) -> list[TrialRecord]:
    """The latest record of each trial: a resumed trial replaces its aborted record."""
    return list({r.seq: r for r in records}.values())


@dataclass
class Finished:
    """A run as it stands after `bench run` (or `--resume`): what the run directory holds, kept in
    memory so that nothing is read back or computed twice."""

    run: RunDir
    info: RunInfo
    records: list[TrialRecord]  # every record in trials.jsonl, in order
    summary: Summary  # as written to summary.csv

    def loaded(self) -> LoadedRun:
        return LoadedRun(self.run.path, self.info, self.records).with_summary(self.summary)


# A platform's driver for the run: (platform, progress, resources, requested accelerator) → Driver.
DriverFactory = Callable[[str, Progress, Resources, str], Driver]


class Execution:
    """A run's trials executed in the plan's order, each recorded as it ends. Its drivers come
    from `drivers` (accelerators.driver: the real ones, a VM's under the accelerator chosen)."""

    def __init__(self, run: RunDir, info: RunInfo, images: RunImages, progress: Progress,
                 drivers: DriverFactory = accelerators.driver,
                 calibrate: Callable[[tuple[int, ...]], NoiseFloor] = noisefloor.measure) -> None:
        # The plan grows in place under the precision rule: run.json is written from info.
        self.run, self.info, self.suite, self.plan = run, info, info.suite, info.plan
        self.make_driver, self.calibrate = drivers, calibrate
        self.manifest, self.loaded, self.progress = images.manifest, images.loaded, progress
        self.user_images = images.user_images
        loaded = images.loaded
        self.records = run.records()  # read once: those of an earlier part of a resumed run
        self.drivers: dict[str, Driver] = {}
        self.pairs = {name: interference.resolve(w) for name, w in loaded.items() if w.kind_traits.composite}
        self.neighbour_drivers: dict[str, Driver] = {}  # other-cpu: the neighbours' own CPUs
        # What the precision rule is expected to add later: the planned minimum's rounds first
        # count each cell at the midpoint of minimum and cap, then at what its width predicts.
        self.expected_extra = self._prior_extra()

    def _prior_extra(self) -> list[PlannedTrial]:
        if self.suite.precision is None:
            return []
        once = schedule.once(self.loaded)
        cells = {(t.platform, t.workload) for t in self.plan if not t.warmup and t.workload not in once
                 and precision.precision_metric(self.loaded[t.workload]) is not None}
        rounds = math.ceil((self.suite.precision.max_repetitions - self.suite.repetitions) / 2)
        return [PlannedTrial(0, 0, False, platform, workload) for platform, workload in sorted(cells)] * rounds

    def execute(self, accel: str) -> Finished:
        """With the run marked live (leases.py) from before its first instance."""
        with leases.held(self.info.run_id):
            try:
                self._run_all(accel)
            except BaseException:
                try:
                    self._finish()
                except BenchError as e:  # the failure that stopped the run is the one to report
                    self.progress.note(f"warning: {e}")
                raise
            return self._finish()

    def _run_all(self, accel: str) -> None:
        suite, progress = self.suite, self.progress
        resources = allot(suite.cpus, suite.memory_mib)
        # Placed before the harness keeps to its own CPUs, which would leave only those to place on.
        self.placement = place_pair(suite.placement, suite.cpus, suite.memory_mib) if self.pairs else None
        harness_cpus = keep_harness_apart(resources)
        if self.placement is not None and self.placement.placement == "other-cpu":
            harness_cpus = self.placement.harness_cpus
            os.sched_setaffinity(0, harness_cpus)
        progress.note(f"instances on CPU {resources.cpuset_text}, the harness on CPU "
                      f"{','.join(map(str, harness_cpus))}; {resources.memory_mib} MiB each")
        if self.placement is not None:
            progress.note(f"interference: {self.placement.describe()}")
        if self.info.noise_floor is None:
            self._measure_noise_floor(resources)
        self.drivers = {p: self.make_driver(p, progress, resources, accel) for p in suite.platforms}
        if self.placement is not None and self.placement.placement == "other-cpu":
            self.neighbour_drivers = {p: self.make_driver(p, progress, self.placement.neighbour, accel)
                                      for p in suite.platforms}
        self.eta = Eta(lambda t: estimate_s(t.platform, self.suite.workload_for(t.platform, self.loaded[t.workload]), self.drivers[t.platform].accel,
                                            suite.density_instances))
        by_seq = {t.seq: t for t in self.plan}
        for record in self.records:  # a resumed run knows its trials' durations already
            if record.seq in by_seq:
                self.eta.learn(record, by_seq[record.seq])
        finished = finished_seqs(self.records)
        self._run([t for t in self.plan if t.seq not in finished])
        while suite.precision is not None:
            found = precision.standings(suite, current_records(self.records), self.loaded, schedule.once(self.loaded))
            self.info.precision = precision.stopped(suite, found)
            wanted = precision.imprecise(suite, self.plan, found, current_records(self.records))
            extra = schedule.extra_repetition(suite, self.plan, wanted)
            self.plan.extend(extra)
            self.run.write_info(self.info)
            if not extra:
                break
            self.expected_extra = self._expected_extra(found)
            progress.note(f"precision: {len(extra)} more trial(s): " + "; ".join(
                f"{t.platform} {t.workload} ({t.added})" for t in extra))
            self._run(extra)

    def _measure_noise_floor(self, resources: Resources) -> None:
        """Before the first trial: how much fixed work varies on the instances' CPUs right now."""
        try:
            with self.progress.step(f"noise floor on CPU {resources.cpuset_text}"):
                floor = self.calibrate(resources.cpuset)
        except BenchError as e:
            self.progress.note(f"warning: {e}")
            return
        self.info.noise_floor = floor
        self.run.write_info(self.info)
        n = self.suite.repetitions
        self.progress.note(f"noise floor: CV {floor.cv:.1%} of a {floor.seconds_each * 1000:.0f} ms loop on CPU "
                           f"{floor.cpus}: with {n} trials a cell resolves differences of about "
                           f"{floor.resolvable(n):.1%} or more")
        for line in precision_warnings(self.suite.precision, floor):
            self.progress.note(f"warning: {line}")
        if floor.foreign_pct is not None and floor.foreign_pct >= DISTURBED_PCT:
            self.progress.note(f"warning: other processes took {floor.foreign_pct:.0f} % of CPU {floor.cpus} during "
                               "the calibration: the host is busy, and trials on those CPUs will be disturbed")

    def _expected_extra(self, found: list[precision.Standing]) -> list[PlannedTrial]:
        """The trials the rule is expected to add after the round about to run, for the ETA."""
        assert self.suite.precision is not None
        cap = self.suite.precision.max_repetitions
        expected = []
        for s in found:
            rounds = s.expected_n(cap) - schedule.measured_repetitions(self.plan, s.platform, s.workload)
            expected += [PlannedTrial(0, 0, False, s.platform, s.workload)] * max(rounds, 0)
        return expected

    def _run(self, todo: list[PlannedTrial]) -> None:
        for done, planned in enumerate(todo):
            record = self._trial(planned, f"({self.eta.remaining_text(todo[done:] + self.expected_extra)} left)")
            if not record.ok:
                self.progress.note(record.summary())

    def _trial(self, planned: PlannedTrial, eta: str) -> TrialRecord:
        suite = self.suite
        driver, workload = self.drivers[planned.platform], suite.workload_for(planned.platform, self.loaded[planned.workload])
        run_id = self.info.run_id
        record = TrialRecord(run_id, planned.seq, planned.platform, planned.workload, planned.repetition,
                             planned.warmup)
        label = (f"[{planned.seq}/{len(self.plan)}] {planned.platform} {planned.workload}, repetition "
                 f"{planned.repetition}{' (warm-up)' if planned.warmup else ''}"
                 f"{f' (added: {planned.added})' if planned.added else ''}")
        try:
            with self.progress.step(label, eta):
                user = self.user_images.get(workload.name)
                ctx = TrialContext(run_id, planned.seq, workload, self.manifest, seconds=suite.seconds, user_image=user,
                                   probe_tree=user is not None and planned.repetition == suite.warmup + 1)
                trials = {"single": self._single, "density": self._density, "interference": self._interference}
                trials[workload.kind_traits.trial](driver, ctx, record, planned)
        finally:
            self.records.append(self.run.append(record))
            self.eta.learn(record, planned)
        return record

    # One per shape of trial (WorkloadKind.trial).
    def _single(self, driver: Driver, ctx: TrialContext, record: TrialRecord, planned: PlannedTrial) -> None:
        suite = self.suite
        run_trial(driver, ctx, record, suite.timeout_for(ctx.workload), suite.sampling,
                  settle=suite.precision is not None)
        if suite.precision is not None and record.disturbed and record.ok and not record.warmup:
            record.excluded = f"disturbed: {record.facts.get('disturbance', 'other processes ran on its CPUs')}"

    def _density(self, driver: Driver, ctx: TrialContext, record: TrialRecord, planned: PlannedTrial) -> None:
        run_density(driver, ctx, record, self.suite.density_instances, self.suite.timeout_for(ctx.workload))

    def _interference(self, driver: Driver, ctx: TrialContext, record: TrialRecord, planned: PlannedTrial) -> None:
        suite = self.suite
        pair = self.pairs[planned.workload]
        pair = replace(pair, victim=suite.workload_for(planned.platform, pair.victim))
        assert self.placement is not None
        neighbour = self.neighbour_drivers.get(planned.platform, driver)
        run_interference((driver, neighbour), ctx, record, pair, self.placement, suite.timeout_for(ctx.workload),
                         suite.sampling)

    def _finish(self) -> Finished:
        """Close the drivers (their run networks), record the engines' memory, write the summary."""
        with signals_deferred():
            for driver in [*self.drivers.values(), *self.neighbour_drivers.values()]:
                try:
                    driver.close()
                except BenchError as e:  # the others still close; `bench clean` removes what this left
                    self.progress.note(f"warning: {driver.name}: {e}; `bench clean` removes what is left")
            self.info.engines_memory = engines.fixed_memory()
            stored = self.run.write_info(self.info)
        # All records in file order, as every reader of the directory computes it (a resumed
        # trial's aborted record counts for nothing).
        table = summary.summarise(self.records)
        if self.records:
            self.run.write_summary(table)
        return Finished(self.run, stored, self.records, table)


class Eta:
    """Remaining time: a platform × workload's own mean duration once seen; before that the
    plan's estimate for it (schedule.estimate_s), scaled by how the pairs seen so far compared
    with their estimates. The scale starts at 1 and moves as evidence comes in (PRIOR_S of
    estimate weigh as much as the seconds seen), so one quick first trial does not halve the
    ETA, and a 10 s workload is never guessed from a 0.2 s one."""

    PRIOR_S = 120.0

    def __init__(self, estimate: Callable[[PlannedTrial], float]) -> None:
        self.estimate = estimate
        self.seconds: dict[tuple[str, str], list[float]] = {}
        self.estimated: dict[tuple[str, str], float] = {}

    def learn(self, record: TrialRecord, planned: PlannedTrial) -> None:
        key = (record.platform, record.workload)
        self.seconds.setdefault(key, []).append(record.duration_s)
        self.estimated[key] = self.estimate(planned)

    def remaining_s(self, todo: list[PlannedTrial]) -> float:
        seen_s = sum(sum(v) / len(v) for v in self.seconds.values())
        estimated_s = sum(self.estimated.values())
        pace = (seen_s + self.PRIOR_S) / (estimated_s + self.PRIOR_S)
        total = 0.0
        for t in todo:
            seen = self.seconds.get((t.platform, t.workload))
            total += sum(seen) / len(seen) if seen else self.estimate(t) * pace
        return total

    def remaining_text(self, todo: list[PlannedTrial]) -> str:
        minutes, seconds = divmod(int(self.remaining_s(todo)), 60)
        return f"about {minutes}m{seconds:02d}s"
