"""One trial: set up → start → READY → RESULT → tear down, timed from the host.

t0 is taken just before the instance's first create call; READY and RESULT are timed when
the harness sees their lines. Every failure (timeout, an instance that dies, an unreadable
RESULT line, a score missing from the output) makes a failed outcome with the reason and the
console's last lines; the instance is torn down whatever happened.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field

from bench.console import ConsoleClosed
from bench.errors import BenchError
from bench.images import manifest as manifests
from bench.platforms import make_driver
from bench.platforms.base import Driver, TrialContext
from bench.progress import Progress
from bench.protocol import READY, RESULT, GuestResult, ResultLineError
from bench.workload import ScoreError, Workload

CONSOLE_TAIL_LINES = 20


@dataclass
class TrialOutcome:
    run_id: str
    seq: int
    platform: str
    workload: str
    ok: bool = False
    reason: str = ""
    score: float | str | None = None
    unit: str = ""
    better: str = ""
    exit_code: int | None = None
    guest_seconds: float | None = None  # the command's duration by the guest's clock
    ready_s: float | None = None  # t0 → READY seen by the harness
    result_s: float | None = None  # t0 → RESULT seen by the harness
    teardown_s: float | None = None
    phases_s: dict[str, float] = field(default_factory=dict)  # start phases, seconds after t0
    facts: dict[str, str] = field(default_factory=dict)
    console_tail: list[str] = field(default_factory=list)  # kept when the trial failed

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        where = f"{self.platform}" + (f" ({self.facts['accel']})" if "accel" in self.facts else "")
        if not self.ok:
            tail = "\n".join(f"    | {line}" for line in self.console_tail)
            return f"{where} {self.workload}: FAILED: {self.reason}" + (f"\n{tail}" if tail else "")
        return (f"{where} {self.workload}: {self.score} {self.unit}; READY after {self.ready_s:.3f} s, "
                f"RESULT after {self.result_s:.3f} s, teardown {self.teardown_s:.3f} s")


def run_trial(driver: Driver, ctx: TrialContext) -> TrialOutcome:
    workload = ctx.workload
    outcome = TrialOutcome(ctx.run_id, ctx.seq, driver.name, workload.name,
                           unit=workload.score.unit, better=workload.score.better)
    instance = driver.prepare(ctx)
    t0 = time.monotonic_ns()
    try:
        instance.setup()
        t0 = time.monotonic_ns()
        instance.start()
        deadline = time.monotonic() + workload.timeout_s
        index, line = instance.console.wait_for((READY, RESULT), workload.timeout_s)
        if line.text.startswith(READY):
            outcome.ready_s = (line.t_ns - t0) / 1e9
            index, line = instance.console.wait_for(RESULT, deadline - time.monotonic(), index)
        outcome.result_s = (line.t_ns - t0) / 1e9
        result = GuestResult.parse(line.text)
        outcome.exit_code, outcome.guest_seconds = result.exit_code, result.guest_seconds
        if result.exit_code != 0:
            last = (result.output.strip().splitlines() or ["no output"])[-1]
            raise ScoreError(f"workload exited with code {result.exit_code}: {last}")
        if outcome.ready_s is None:
            raise ResultLineError("RESULT came without READY")
        outcome.score = workload.score.extract(result.output)
        outcome.ok = True
    except (TimeoutError, ConsoleClosed, ResultLineError, ScoreError, BenchError) as e:
        outcome.reason = str(e)
    finally:
        phases = dict(instance.phases)
        if instance.console.first_byte_ns is not None:
            phases["first_output"] = instance.console.first_byte_ns
        outcome.phases_s = {k: round((v - t0) / 1e9, 6) for k, v in sorted(phases.items(), key=lambda kv: kv[1])}
        outcome.facts = dict(instance.facts)
        started = time.monotonic()
        instance.teardown()
        outcome.teardown_s = round(time.monotonic() - started, 6)
        if not outcome.ok:
            outcome.console_tail = instance.console.tail(CONSOLE_TAIL_LINES)
    return outcome


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def launch_once(workload: Workload, platform: str, accel: str, progress: Progress) -> TrialOutcome:
    """`bench launch`: one trial of one workload on one platform, outside any suite."""
    manifest = manifests.load()
    manifest.require(workload)
    driver = make_driver(platform, progress, accel)
    ctx = TrialContext(new_run_id(), 1, workload, manifest)
    with progress.step(f"{platform}: {workload.name} (timeout {workload.timeout_s:g} s)"):
        return run_trial(driver, ctx)
