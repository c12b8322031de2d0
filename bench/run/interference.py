"""An interference trial (Matthews et al. 2007): a victim of one platform measured alone and
beside a neighbour of the same platform running one stress at a time.

Each condition gets a fresh pair: the neighbour is started and its stress running (READY seen)
before the victim starts; the victim is one whole single trial (trial.py), its figures kept
at the dimension stress=S (`score` at stress=fork); then the neighbour's fate is read (still running,
OOM kills inside its cgroup, the most processes the host saw in it) and it is removed. The
conditions' order turns with the repetition, so no stress always runs first or last. A victim
that fails beside a stress did not complete (DNR), which is a figure, not a failed trial;
only a victim that fails alone fails the trial: there is then no baseline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from bench.definitions.interference import ALONE, MEMORY_FILLING, Interference, dimensions_beside
from bench.definitions.suite import Sampling
from bench.definitions.workload import ScoreError, Workload
from bench.errors import BenchError
from bench.guest.console import ConsoleClosed
from bench.guest.protocol import READY, RESULT, GuestResult, ResultLineError
from bench.host import killpoints
from bench.host.headroom import require_memory_headroom
from bench.model.registry import is_vm
from bench.model.resources import PairPlacement
from bench.model.trial import SCORE, TrialRecord
from bench.net.servers import HostServers
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes import oom
from bench.run.frame import CONSOLE_TAIL_LINES, TrialFrame, teardown_all
from bench.run.trial import SingleTrial, start_servers

WATCH_HZ = 10.0  # how often the neighbour's host processes are counted while the victim runs


@dataclass
class Condition:
    name: str
    victim: TrialRecord | None = None
    neighbour: Instance | None = None
    servers: HostServers | None = None  # the host's side of a network stress
    refused: str = ""  # why the stress was not run (the host's memory headroom, no limit to keep it in)


class InterferenceTrial(TrialFrame):
    def __init__(self, drivers: tuple[Driver, Driver], ctx: TrialContext, record: TrialRecord,
                 pair: Interference, placement: PairPlacement, timeout_s: float, sampling: Sampling) -> None:
        super().__init__(drivers[0], ctx, record, placement=placement.placement)
        self.neighbour_driver = drivers[1]
        self.pair, self.placement, self.timeout_s, self.sampling = pair, placement, timeout_s, sampling
        self.neighbours: list[Instance] = []  # every one started, for the teardown whatever happens
        self.servers: list[HostServers] = []  # a network stress's, likewise
        self.done: list[Condition] = []

    def order(self) -> list[str]:
        conditions = list(self.pair.conditions)
        turn = (self.record.repetition - 1) % len(conditions)
        return conditions[turn:] + conditions[:turn]

    def measure(self) -> None:
        for k, name in enumerate(self.order()):
            condition = Condition(name)
            self.done.append(condition)
            self._run(condition, k)
        alone = next(c for c in self.done if c.name == ALONE)
        if alone.victim is None or not alone.victim.ok:
            raise ScoreError(f"the victim alone: {alone.victim.reason if alone.victim else 'not run'}")

    def _run(self, condition: Condition, k: int) -> None:
        stress = self.pair.stress(condition.name)
        if stress is not None:
            condition.refused = self._refusal(condition.name)
            if condition.refused:
                return
            condition.neighbour = self._start_neighbour(stress, k, condition)
            condition.refused = self._unbounded(condition)
            if condition.refused:
                self._remove(condition)
                return
            killpoints.reach(self.record.seq, f"stress-{condition.name}")
        watch = _ProcessWatch(condition.neighbour) if condition.neighbour else None
        try:
            victim_ctx = replace(self.ctx, workload=self.pair.victim, instance=2 * k + 2)
            victim = TrialRecord(self.record.run_id, self.record.seq, self.record.platform, self.pair.victim.name,
                                 self.record.repetition, self.record.warmup)
            condition.victim = SingleTrial(self.driver, victim_ctx, victim, self.timeout_s, self.sampling).run()
        finally:
            if watch is not None:
                watch.stop()
        self._keep(condition, watch)
        self._remove(condition)

    def _refusal(self, name: str) -> str:
        if name not in MEMORY_FILLING:
            return ""
        try:
            require_memory_headroom(name, self.placement.victim.memory_mib, self.placement.neighbour.memory_mib)
        except BenchError as e:
            return str(e)
        return ""

    def _unbounded(self, condition: Condition) -> str:
        """A memory-filling stress in an instance with no memory limit would fill the host's."""
        assert condition.neighbour is not None
        limit = condition.neighbour.facts.get("memory_limit", "")
        if condition.name in MEMORY_FILLING and limit.startswith("no memory limit"):
            return f"{condition.name} stress refused: the neighbour has {limit}"
        return ""

    def _start_neighbour(self, stress: Workload, k: int, condition: Condition) -> Instance:
        ctx = replace(self.ctx, workload=stress, instance=2 * k + 1)
        neighbour = self.neighbour_driver.prepare(ctx)
        self.neighbours.append(neighbour)
        neighbour.setup()
        condition.servers = start_servers(neighbour, stress, self.timeout_s)
        if condition.servers is not None:
            self.servers.append(condition.servers)
        neighbour.start()
        neighbour.console.wait_for(READY, self.timeout_s)
        return neighbour

    def _keep(self, condition: Condition, watch: _ProcessWatch | None) -> None:
        """The victim's figures under the condition's name; whether it completed; the neighbour's fate."""
        sink, victim, name = self.sink, condition.victim, condition.name
        assert victim is not None
        wanted = self.pair.victim.metrics
        for sample in victim.quantities:
            if sample.metric == SCORE or sample.metric in wanted:
                sink.samples.append(replace(sample, dimensions=dimensions_beside(sample.dimensions, name),
                                            workload=self.ctx.workload.name,
                                            metadata={**sink.trial_metadata, **sample.metadata, "condition": name}))
        if name == ALONE:
            return
        beside = dimensions_beside({}, name)
        sink.add("victim_completed", float(victim.ok), "bool", "higher", beside,
                 probe="1 when the victim's trial beside the stress gave its figures, 0 when it did not (DNR)")
        if not victim.ok:
            self.record.facts[f"victim_{name}"] = victim.reason
        neighbour = condition.neighbour
        assert neighbour is not None
        alive = not neighbour.console.has_line(RESULT) and neighbour.console.closed_reason is None
        if not alive:
            self.record.facts[f"neighbour_{name}"] = _ending(neighbour)
        sink.add("neighbour_alive", float(alive), "bool", "higher", beside,
                 probe="1 when the neighbour's stress still ran at the victim's end")
        if watch is not None and watch.peak is not None:
            sink.add("neighbour_procs_peak", float(watch.peak), "processes", "lower", beside,
                     probe=f"the most host processes of the neighbour, counted {WATCH_HZ:g} times a second")
        if not is_vm(neighbour.platform):
            kills = oom.oom_kills(neighbour.host_pids())
            if kills is not None:
                sink.add("neighbour_oom_kills", float(kills), "kills", "lower", beside, probe=oom.HOW)

    def _remove(self, condition: Condition) -> None:
        if condition.neighbour is not None:
            condition.neighbour.teardown()
            self.neighbours.remove(condition.neighbour)
        if condition.servers is not None:
            condition.servers.stop()
            self.servers.remove(condition.servers)

    def failure(self, error: Exception) -> str:
        current = self.done[-1].name if self.done else ALONE
        return f"{current}: {error}"

    def observe(self) -> None:
        record = self.record
        facts = {**self.driver.instance_facts(), "victim": self.pair.victim.name, "placement": self.placement.describe(),
                 "conditions": " ".join(c.name for c in self.done)}
        for condition in self.done:
            if condition.refused:
                facts[f"refused_{condition.name}"] = condition.refused
        alone = next((c.victim for c in self.done if c.name == ALONE and c.victim is not None), None)
        if alone is not None:
            facts.update({k: v for k, v in alone.facts.items() if k not in facts})
        record.facts = {**record.facts, **facts}
        if not record.ok and self.neighbours:
            record.console_tail = self.neighbours[-1].console.tail(CONSOLE_TAIL_LINES)

    def teardown(self) -> None:
        teardown_all(self.neighbours)
        self.neighbours.clear()

    def after_teardown(self) -> None:
        for servers in self.servers:
            servers.stop()
        self.servers.clear()


def _ending(neighbour: Instance) -> str:
    """How a neighbour's stress ended before the victim did: its exit code and last words."""
    try:
        _, line = neighbour.console.wait_for(RESULT, 0.0)
        result = GuestResult.parse(line.text)
    except (TimeoutError, ConsoleClosed, ResultLineError):
        return f"its output ended: {neighbour.console.closed_reason or 'no RESULT line'}"
    last = (result.output.strip().splitlines() or ["no output"])[-1]
    return f"the stress exited with code {result.exit_code} after {result.guest_seconds:.1f} s: {last[:200]}"


class _ProcessWatch:
    """The neighbour's host processes counted from a thread while the victim runs."""

    def __init__(self, instance: Instance) -> None:
        self.instance, self.peak = instance, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(1 / WATCH_HZ):
            count = len(self.instance.host_pids())
            self.peak = count if self.peak is None else max(self.peak, count)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run_interference(drivers: tuple[Driver, Driver], ctx: TrialContext, record: TrialRecord, pair: Interference,
                     placement: PairPlacement, timeout_s: float, sampling: Sampling = Sampling()) -> TrialRecord:
    return InterferenceTrial(drivers, ctx, record, pair, placement, timeout_s, sampling).run()
