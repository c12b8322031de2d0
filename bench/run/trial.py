"""One trial: set up → start → READY → RESULT → collect → tear down, timed from the host.

t0 is taken just before the instance's first create call; READY and RESULT are timed when
the harness sees their lines. The probes run around it: memory sampled from start to RESULT,
CPU seconds and disk growth read at RESULT, boot phases and teardown from the timestamps.
Every failure (timeout, an instance that dies, an unreadable RESULT line, a score missing
from the output) makes a failed record with the reason and the console's last lines; an
interrupt makes an aborted one. The instance is torn down whatever happened.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable

from bench.definitions.suite import Sampling
from bench.definitions.workload import ARTIFACT_METRIC, SETTLED_METRIC, USERSPACE_METRIC, ScoreError, Settle, Workload
from bench.errors import BenchError
from bench.guest.console import Line
from bench.guest.protocol import (GuestResult, INIT_FAILED, READY, RESULT, TREE, TREE_FAILED, ResultLineError,
                                  TreeLine)
from bench.host import killpoints
from bench.images import manifest as manifests, user_image
from bench.model import registry
from bench.model.registry import is_vm
from bench.model.resources import allot
from bench.model.sample import SampleSink
from bench.model.trial import CLIENT_PROBE, SCORE, TrialRecord
from bench.net import clients, servers
from bench.net.servers import HostServers
from bench.operations import accel as accelerators
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes import boot, cpu, disk, exposure, isolation
from bench.probes.disturbance import DisturbanceProbe
from bench.probes.memory import MemoryMonitor
from bench.progress import Progress
from bench.run.frame import CONSOLE_TAIL_LINES, TrialFrame, signals_deferred


class SingleTrial(TrialFrame):
    """One instance: started, READY and RESULT awaited, probed, its output parsed."""

    def __init__(self, driver: Driver, ctx: TrialContext, record: TrialRecord, timeout_s: float,
                 sampling: Sampling, settle: bool = False) -> None:
        super().__init__(driver, ctx, record)
        self.timeout_s, self.sampling = timeout_s, sampling
        self.settle = ctx.workload.settle if settle else None  # end a [settle] wait once it is steady
        self.servers: HostServers | None = None
        self.ready_s: float | None = None  # t0 → READY seen, once it was
        self.disturbance = DisturbanceProbe(driver.resources.cpuset, tuple(sorted(os.sched_getaffinity(0))))

    def prepare(self) -> None:
        self.instance = instance = self.driver.prepare(self.ctx)
        self.monitor = MemoryMonitor(instance.host_pids, self.sampling.hz, self.sampling.pss_every,
                                     instance.guest_ram_bytes, instance.host_processes)
        self.t0 = time.monotonic_ns()

    def measure(self) -> None:
        instance, record, workload = self.instance, self.record, self.ctx.workload
        instance.setup()
        self.servers = start_servers(instance, workload, self.timeout_s)
        if self.servers is not None:
            killpoints.reach(record.seq, "servers")
        self.disturbance.start()
        self.t0 = t0 = time.monotonic_ns()
        instance.start()
        killpoints.reach(record.seq, "started")
        self.monitor.start()
        if workload.client is not None:
            self._serve(instance, workload, t0)
            figures_read = True  # a server never ends by itself: hashed while it still serves
        else:
            figures_read = self._await_result(instance, workload, t0)
        if self.ctx.probe_tree and figures_read:
            self._probe_tree(time.monotonic() + self.timeout_s)

    def _await_result(self, instance: Instance, workload: Workload, t0: int) -> bool:
        """READY, then RESULT (or a settled wait's end), the figures read: whether RESULT came."""
        record = self.record
        settle = self.settle
        steady = None if settle is None else (lambda ready: settle.steady(self.monitor.pss_since(ready.t_ns)) is not None)
        ready, result_line = _await_lines(instance, self.timeout_s, steady)
        killpoints.reach(record.seq, "ready")
        self.ready_s = _seconds_since(t0, ready.t_ns)
        record.result_s = _seconds_since(t0, time.monotonic_ns() if result_line is None else result_line.t_ns)
        record.ready_latency_s = _ready_latency(ready, self.driver.name)
        self._collect()
        if workload.settle is not None:
            self._record_settled(workload.settle, ready.t_ns, ended=result_line is None)
        if result_line is not None:
            _read_result(result_line, workload, record, self.ready_s, self.sink, instance.facts)
        return result_line is not None

    def _collect(self) -> None:
        """At RESULT, before teardown: the final memory sample, CPU seconds, disk growth, and
        whether something else ran on the instance's CPUs meanwhile."""
        instance, sink = self.instance, self.sink
        pids = instance.host_pids()
        main_pid = instance.main_pid()
        if main_pid:
            instance.facts.update(isolation.observe(main_pid))
        used = cpu.cpu_time(main_pid, pids)
        found = self.disturbance.finish(used.seconds if used is not None else 0.0)
        self.monitor.finish()
        self.monitor.record(sink)
        cpu.record(sink, used)
        disk.record(sink, "instance_disk_mib", instance.disk_growth())
        found.record(sink)
        self.record.disturbed = found.disturbed
        instance.facts["disturbance"] = found.describe()

    def _probe_tree(self, deadline: float) -> None:
        """After the figures are read: the instance's tree probe hashes the user space it sees,
        which must be the image's as flattened on the host."""
        instance, image = self.instance, self.ctx.user_image
        assert image is not None
        instance.release_tree_probe()
        _, line = instance.console.wait_for((TREE, TREE_FAILED), self.timeout_s, 0, deadline)
        if line.text.startswith(TREE_FAILED):
            raise BenchError(f"tree probe: {line.text[len(TREE_FAILED):]}")
        found = TreeLine.parse(line.text)
        self.sink.add(USERSPACE_METRIC, found.sha256, "sha256", "equal",
                      probe=f"the instance's static tree probe after RESULT ({found.entries} entries)")
        instance.facts["userspace"] = (f"the image's user space: tree hash {found.sha256[:16]}…, {found.entries} entries"
                                       if found.sha256 == image.tree_sha256 else
                                       f"NOT the image's: tree hash {found.sha256[:16]}… ({found.entries} entries), "
                                       f"built {image.tree_sha256[:16]}… ({image.tree_entries})")
        if found.sha256 != image.tree_sha256:
            raise BenchError(f"the instance's user space is not the image's: {instance.facts['userspace']}")

    def _record_settled(self, settle: Settle, ready_ns: int, ended: bool) -> None:
        """mem_pss_settled_mib: the PSS readings after READY once steady, else the last of them."""
        readings = self.monitor.pss_since(ready_ns)
        if not readings:
            raise BenchError("no PSS reading after READY: the instance's memory was not sampled")
        steady = settle.steady(readings)
        last = readings[-settle.readings:]
        how = f"{settle.readings} readings within {settle.tolerance:.0%} of their mean"
        if ended:
            self.instance.facts["settled"] = (f"the wait ended {self.record.result_s - (self.ready_s or 0):.1f} s "
                                              f"after READY, once PSS was steady ({how})")
        elif steady is None:
            self.instance.facts["settled"] = f"PSS still moving at the wait's end (not {how})"
        value = steady if steady is not None else sum(last) / len(last)
        self.sink.add(SETTLED_METRIC, value, "MiB", "lower",
                      probe=f"mean of the last {len(last)} PSS readings after READY ({how}, or at the wait's end)")

    def _serve(self, instance: Instance, workload: Workload, t0: int) -> None:
        """A server workload: after READY and the server's own answer, the host's client runs
        against it, once per value; the client's end stands for RESULT."""
        assert workload.client is not None
        record, deadline = self.record, time.monotonic() + self.timeout_s
        path = instance.network
        if path is None or path.instance_address is None:
            raise BenchError(f"{instance.platform} gives a host-side client no way to the server in its instance")
        _, ready = instance.console.wait_for(READY, self.timeout_s, deadline=deadline)
        killpoints.reach(record.seq, "ready")
        self.ready_s = _seconds_since(t0, ready.t_ns)
        record.ready_latency_s = _ready_latency(ready, self.driver.name)
        owner = f"{instance.ctx.name(instance.platform)}-client"
        cpus = ",".join(map(str, sorted(os.sched_getaffinity(0))))  # the harness's, which the client inherits
        instance.facts["network_client"] = f"{', '.join(sorted(workload.client.tools))} on the host, on host CPU {cpus}"
        clients.await_server(workload.client, path.instance_address, path.instance_port, owner, deadline,
                             lambda: instance.console.closed_reason is None)
        self.sink.add("server_ready_s", _seconds_since(t0, time.monotonic_ns()), "s", "lower",
                      probe="host monotonic clock: first create call → the server's first answer to [client] ready")
        if path.listen == path.instance_address and not servers.listening(
                path.instance_address, workload.client.port, set(instance.host_pids())):
            raise BenchError(f"{path.instance_address}:{workload.client.port} answered, but not from the "
                             "instance: another process on the host holds that port")
        found = []
        for k, route in enumerate(path.routes):  # the path's own first, then (Docker) its userland proxy
            runs = clients.run_client(workload.client, route.address, route.port, owner,
                                      lambda: killpoints.reach(record.seq, "client"), prepare=k == 0)
            found += clients.figures(workload, runs, route.path)
        record.result_s = _seconds_since(t0, time.monotonic_ns())
        self._collect()
        self.sink.add("workload_s", record.result_s - self.ready_s, "s",
                      probe="host monotonic clock: READY seen → the host's client done")
        how = f"{CLIENT_PROBE} ({workload.name}/workload.toml [client], [metrics])"
        for figure in found:
            self.sink.add(figure.metric, figure.value, figure.score.unit, figure.score.better, figure.dimensions, probe=how)

    def failure(self, error: Exception) -> str:
        """Why the trial failed; where a VM's init gave up first (a disk it could not mount), that too."""
        gave_up = self.instance.console.first(lambda text: text.startswith(INIT_FAILED))
        return f"{error} (the guest's init: {gave_up.text[len(INIT_FAILED):]})" if gave_up else str(error)

    def observe(self) -> None:
        instance, record = self.instance, self.record
        self.monitor.stop()
        phases = {**instance.console.phases(), **instance.phases, **instance.boot_events()}
        if instance.console.first_byte_ns is not None:
            phases["first_output"] = instance.console.first_byte_ns
        record.phases_s = {k: _seconds_since(self.t0, v) for k, v in sorted(phases.items(), key=lambda kv: kv[1])}
        record.facts = {**self.driver.instance_facts(), **instance.facts}
        if self.ctx.launch_name != self.ctx.workload.name:
            record.facts["seconds"] = (f"{self.ctx.seconds} s measured, the suite's (the workload's own: "
                                       f"{self.ctx.workload.seconds} s)")

    def teardown(self) -> None:
        self.instance.teardown()

    def after_teardown(self) -> None:
        if self.servers is not None:  # the host's servers are not part of the instance's teardown time
            self.servers.stop()

    def conclude(self) -> None:
        record, sink, ctx = self.record, self.sink, self.ctx
        if self.ready_s is not None:
            boot.record(sink, record.phases_s, self.ready_s)
        self.add_teardown()
        score = ctx.workload.score
        if score is not None and score.better == "equal":  # a proof of user space: say what it came from
            sink.add(ARTIFACT_METRIC, self.driver.artifact_digest(ctx), "sha256", "equal",
                     probe="the digest of the artifact the instance ran from, as `bench images build` made it")
        try:
            disk.record(sink, "image_mib", self.driver.image_footprint(ctx))
        except (BenchError, OSError) as e:  # the trial's own outcome matters more
            record.facts["image_footprint"] = f"not measured: {e}"
        record.memory_series = self.monitor.reading.series()
        if not record.ok:
            record.console_tail = self.instance.console.tail(CONSOLE_TAIL_LINES)


def run_trial(driver: Driver, ctx: TrialContext, record: TrialRecord, timeout_s: float,
              sampling: Sampling = Sampling(), settle: bool = False) -> TrialRecord:
    """Fill `record` with the trial's outcome (frame.py: failures, interrupts, teardown).
    `settle`: a [settle] workload's wait ends once its memory is steady."""
    return SingleTrial(driver, ctx, record, timeout_s, sampling, settle).run()


def _seconds_since(t0_ns: int, t_ns: int) -> float:
    """Rounded to microseconds, READY and the phases alike: a phase seen in READY's read equals it."""
    return round((t_ns - t0_ns) / 1e9, 6)


def start_servers(instance: Instance, workload: Workload, timeout_s: float) -> HostServers | None:
    """The host's servers for a network workload, listening before the instance starts."""
    if not workload.network:
        return None
    if instance.network is None:
        raise BenchError(f"{instance.platform} gives its instances no network path to the host")
    instance.facts["network_path"] = instance.network.description
    if not workload.servers:
        return None
    servers = HostServers(instance.ctx.name(instance.platform), workload.servers, instance.network, timeout_s)
    instance.facts["network_servers"] = servers.describe()
    try:
        servers.start()
    except BaseException:  # the caller never gets hold of the ones already running
        servers.stop()
        raise
    return servers


SETTLE_POLL_S = 0.25  # how often a settling wait looks at the memory readings


def _await_lines(instance: Instance, timeout_s: float,
                 steady: Callable[[Line], bool] | None = None) -> tuple[Line, Line | None]:
    """READY, then RESULT; or, with `steady` (given the READY line), no RESULT (None) once it
    says the wait is over."""
    deadline = time.monotonic() + timeout_s
    index, ready = instance.console.wait_for((READY, RESULT), timeout_s, deadline=deadline)
    if not ready.text.startswith(READY):
        raise ResultLineError("RESULT came without READY")
    while True:
        poll = deadline if steady is None else min(deadline, time.monotonic() + SETTLE_POLL_S)
        try:
            return ready, instance.console.wait_for(RESULT, timeout_s, index, poll)[1]
        except TimeoutError:
            if steady is None or time.monotonic() >= deadline or instance.console.closed_reason is not None:
                raise
            if steady(ready):
                return ready, None


def _ready_latency(ready: Line, platform: str) -> float | None:
    """How long after the launcher wrote READY the harness saw it. Only native and docker
    share the host's clock; a VM's clock is its own."""
    if is_vm(platform):
        return None
    try:
        written_ns = int(ready.text[len(READY):].split()[1])
    except (IndexError, ValueError):
        return None
    return (ready.wall_ns - written_ns) / 1e9


def _read_result(line: Line, workload: Workload, record: TrialRecord, ready_s: float, sink: SampleSink,
                 facts: dict[str, str]) -> None:
    result = GuestResult.parse(line.text)
    record.exit_code, record.guest_seconds = result.exit_code, result.guest_seconds
    if result.exit_code != 0:
        last = (result.output.strip().splitlines() or ["no output"])[-1]
        raise ScoreError(f"workload exited with code {result.exit_code}: {last}")
    sink.add("workload_s", (record.result_s or 0) - ready_s, "s",
             probe="host monotonic clock: READY seen → RESULT seen", guest_seconds=result.guest_seconds)
    if workload.kind_traits.exposure_report:
        try:
            found = exposure.Exposure(exposure.parse(result.output), exposure.HostView.read())
        except exposure.ProbeOutputError as e:
            raise ScoreError(str(e)) from None
        found.record(sink)
        facts.update(found.facts(facts))
    for name, metric in workload.metrics.items():
        sink.add(name, metric.extract(result.output), metric.unit, metric.better,
                 probe=f"parsed from the workload's output ({workload.name}/workload.toml [metrics.{name}])")
    if workload.score is not None:
        sink.add(SCORE, workload.score.extract(result.output), workload.score.unit, workload.score.better,
                 probe=f"parsed from the workload's output ({workload.name}/workload.toml [score])")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def launch_once(workload: Workload, platform: str, accel: str, progress: Progress) -> TrialRecord:
    """`bench launch`: one trial of one workload on one platform, with the default resources."""
    manifest = manifests.load()
    if reason := registry.get(platform).no_user_image if workload.user_image else "":
        raise BenchError(f"platform {platform} cannot run workload {workload.name} from a user's image: {reason}")
    if not workload.user_image:
        manifest.require(workload)
    clients.require([workload])
    user = user_image.ensure([workload], manifest.arch, progress).get(workload.name)
    driver = accelerators.driver(platform, progress, allot(1, 512), accel)
    ctx = TrialContext(new_run_id(), 1, workload, manifest, user_image=user, probe_tree=user is not None)
    record = TrialRecord(ctx.run_id, ctx.seq, platform, workload.name)
    try:
        with progress.step(f"{platform}: {workload.name} (timeout {workload.timeout_s:g} s)"):
            return run_trial(driver, ctx, record, workload.timeout_s)
    finally:
        with signals_deferred():
            driver.close()
