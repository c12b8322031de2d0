"""`bench run`: the scheduler's plan executed trial by trial, each recorded as it ends.

The plan (bench/run/schedule.py) is fixed before the first trial and stored in run.json, so
`--resume` runs exactly the trials that have no record yet (or whose record says aborted).
An interrupt records the trial in flight as aborted after its teardown, keeps everything
recorded so far, and writes the summary of what there is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bench.analysis import stats, summary
from bench.definitions import workload as workloads
from bench.definitions.suite import Suite
from bench.errors import BenchError
from bench.host import leases
from bench.host.engines import docker_client
from bench.images import manifest as manifests
from bench.images import engine_disk
from bench.model import registry
from bench.model.resources import allot, keep_harness_apart
from bench.model.trial import TrialRecord
from bench.operations import cleanup
from bench.operations import accel as accelerators
from bench.platforms import preflight
from bench.platforms.base import Driver, TrialContext
from bench.probes import engines
from bench.progress import Progress
from bench.run import provenance, schedule
from bench.run.density import run_density
from bench.run.schedule import PlannedTrial, estimate_s
from bench.run.trial import new_run_id, run_trial, signals_deferred
from bench.rundir.results import RunDir, finished_seqs


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
          ignore_leftovers: bool = False) -> RunDir:
    if not ignore_leftovers:
        refuse_leftovers()
    preflight(suite.platforms, networked(suite))
    manifest, loaded, engine = _images_for(suite, progress)
    plan = schedule.plan(suite)
    run_id = new_run_id()
    info = {"run_id": run_id, "suite": suite.to_json(), "seed": suite.seed, "accel_requested": accel,
            "plan": [t.to_json() for t in plan], **provenance.describe(suite.platforms, manifest, engine)}
    run = RunDir.create(root, run_id, info)
    progress.note(f"run {run_id}: {len(plan)} trials, results in {run.path}")
    _execute(run, suite, plan, manifest, loaded, accel, progress)
    return run


def networked(suite: Suite) -> tuple[str, ...]:
    """The suite's platforms that run one of its network workloads."""
    network = [name for name in suite.workloads if workloads.load(name).network]
    return tuple(p for p in suite.platforms if any(suite.runs(p, w) for w in network))


def dry_run(suite: Suite, accel: str = "auto") -> str:
    """The plan and its estimated duration; nothing is started or probed."""
    loaded = {name: workloads.load(name) for name in suite.workloads}
    if accel != "auto":
        vm_accel, note = accel, f"under {accel} (--accel)"
    elif (verdict := accelerators.cached()) is not None and verdict.chosen is not None:
        vm_accel, note = verdict.chosen.accel, f"under {verdict.chosen.accel} (this boot's doctor verdict)"
    else:
        vm_accel, note = "tcg", "assumed under tcg: no doctor verdict for this boot yet"
    return schedule.plan_text(suite, schedule.plan(suite), loaded, vm_accel, note)


def resume(path: Path, progress: Progress, ignore_leftovers: bool = False) -> RunDir:
    run = RunDir.open(path)
    info = run.info()
    suite = Suite.from_json(info["suite"])
    plan = [PlannedTrial.from_json(t) for t in info["plan"]]
    manifest, loaded, _ = _images_for(suite, progress)
    if manifest.key != info["images"]["key"]:
        raise BenchError(f"{path}: its images ({info['images']['key'][:12]}) are not the current ones "
                         f"({manifest.key[:12]}); rebuilding changed them, so the run cannot continue")
    if not ignore_leftovers:
        refuse_leftovers()
    preflight(suite.platforms, networked(suite))
    run.drop_partial_line()
    info.setdefault("resumed", []).append({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                           "command": provenance.command_line()})
    run.write_info(info)
    _execute(run, suite, plan, manifest, loaded, info.get("accel_requested", "auto"), progress)
    return run


def _images_for(suite: Suite, progress: Progress) -> tuple[manifests.Manifest, dict[str, workloads.Workload],
                                                          engine_disk.EngineDisk | None]:
    """The current images, which must hold every workload of the suite, and the workloads; with
    vm-docker in the suite, its disk, made now if it is not cached (before the run exists)."""
    manifest = manifests.load()
    loaded = {name: workloads.load(name) for name in suite.workloads}
    for workload in loaded.values():
        manifest.require(workload)
    engine = None
    if any(registry.get(p).boot_profile == "docker" for p in suite.platforms):
        engine = engine_disk.ensure(docker_client(), manifest, progress)
    return manifest, loaded, engine


def current_records(records: list[TrialRecord]) -> list[TrialRecord]:
    """The latest record of each trial: a resumed trial replaces its aborted record."""
    return list({r.seq: r for r in records}.values())


def _execute(run: RunDir, suite: Suite, plan: list[PlannedTrial], manifest: manifests.Manifest,
             loaded: dict[str, workloads.Workload], accel: str, progress: Progress) -> None:
    """The run's trials, with the run marked live (leases.py) from before its first instance."""
    with leases.held(run.info()["run_id"]):
        _run_trials(run, suite, plan, manifest, loaded, accel, progress)


def _run_trials(run: RunDir, suite: Suite, plan: list[PlannedTrial], manifest: manifests.Manifest,
                loaded: dict[str, workloads.Workload], accel: str, progress: Progress) -> None:
    run_id = run.info()["run_id"]
    recorded = run.records()
    resources = allot(suite.cpus, suite.memory_mib)
    harness_cpus = keep_harness_apart(resources)
    progress.note(f"instances on CPU {resources.cpuset_text}, the harness on CPU "
                  f"{','.join(map(str, harness_cpus))}; {resources.memory_mib} MiB each")
    drivers: dict[str, Driver] = {p: accelerators.driver(p, progress, resources, accel) for p in suite.platforms}
    by_seq = {t.seq: t for t in plan}
    eta = Eta(lambda t: estimate_s(t.platform, loaded[t.workload], drivers[t.platform].accel,
                                   suite.density_instances))
    for record in recorded:  # a resumed run knows its trials' durations already
        if record.seq in by_seq:
            eta.learn(record, by_seq[record.seq])

    def run_all(todo: list[PlannedTrial]) -> None:
        for done, planned in enumerate(todo):
            driver, workload = drivers[planned.platform], loaded[planned.workload]
            record = TrialRecord(run_id, planned.seq, planned.platform, planned.workload,
                                 planned.repetition, planned.warmup)
            label = (f"[{planned.seq}/{len(plan)}] {planned.platform} {planned.workload}, repetition "
                     f"{planned.repetition}{' (warm-up)' if planned.warmup else ''}"
                     f"{f' (added: {planned.added})' if planned.added else ''}")
            try:
                with progress.step(label, f"({eta.remaining_text(todo[done:])} left)"):
                    ctx = TrialContext(run_id, planned.seq, workload, manifest)
                    if workload.kind == "density":
                        run_density(driver, ctx, record, suite.density_instances, suite.timeout_for(workload))
                    else:
                        run_trial(driver, ctx, record, suite.timeout_for(workload), suite.sampling)
            finally:
                run.append(record)
                eta.learn(record, planned)
            if not record.ok:
                progress.note(record.summary())

    try:
        run_all([t for t in plan if t.seq not in finished_seqs(recorded)])
        while suite.adaptive is not None:
            noisy = _still_noisy(suite, plan, current_records(run.records()), loaded)
            if not noisy:
                break
            extra = schedule.extra_repetition(suite, plan, noisy)
            plan.extend(extra)
            info = run.info()
            info["plan"] = [t.to_json() for t in plan]
            run.write_info(info)
            progress.note(f"adaptive: {len(extra)} more trial(s): " + "; ".join(
                f"{t.platform} {t.workload} ({t.added})" for t in extra))
            run_all(extra)
    except BaseException:
        try:
            _finish(run, suite, drivers, progress)
        except BenchError as e:  # the failure that stopped the run is the one to report
            progress.note(f"warning: {e}")
        raise
    _finish(run, suite, drivers, progress)


def _finish(run: RunDir, suite: Suite, drivers: dict[str, Driver], progress: Progress) -> None:
    """Close the drivers (their run networks), record the engines' memory, write the summary."""
    with signals_deferred():
        for driver in drivers.values():
            try:
                driver.close()
            except BenchError as e:  # the others still close; `bench clean` removes what this left
                progress.note(f"warning: {driver.name}: {e}; `bench clean` removes what is left")
        info = run.info()
        info["engines_memory"] = engines.fixed_memory()
        run.write_info(info)
    records = current_records(run.records())
    if records:
        table = summary.summarise(records, suite.seed)
        run.write_summary(table)


def _still_noisy(suite: Suite, plan: list[PlannedTrial], records: list[TrialRecord],
                 loaded: dict[str, workloads.Workload]) -> dict[tuple[str, str], str]:
    """(platform, workload) → why it needs another repetition: its headline metric's CV is
    above the suite's limit and it has not reached the cap."""
    assert suite.adaptive is not None
    noisy = {}
    for workload in suite.workloads:
        metric = loaded[workload].headline_metric
        for platform in suite.platforms:
            if not suite.runs(platform, workload) or \
                    schedule.measured_repetitions(plan, platform, workload) >= suite.adaptive.max_repetitions:
                continue
            values = [s.value for r in records if r.ok and not r.warmup and (r.platform, r.workload) == (platform, workload)
                      for s in r.samples if s.metric == metric]
            spread = stats.cv(values)
            if len(values) >= 2 and spread > suite.adaptive.cv:
                noisy[(platform, workload)] = f"{metric} CV {spread:.1%} > {suite.adaptive.cv:.0%}"
    return noisy


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
