"""The frame every kind of trial shares: the record's start, the instances' teardown whatever
happened, a failure's reason or an interrupt's "aborted", and the record completed with the
signals held off. A kind of trial (trial.py: one instance; density.py: several) fills in what
it measures and what it observes before and after its teardown."""

from __future__ import annotations

import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.definitions.workload import ScoreError
from bench.errors import BenchError
from bench.guest.console import ConsoleClosed
from bench.guest.protocol import ResultLineError
from bench.model.sample import SampleSink
from bench.model.trial import TEARDOWN, TEARDOWN_HOW, TrialRecord
from bench.platforms.base import Driver, Instance, TrialContext

CONSOLE_TAIL_LINES = 20
# What fails a trial (the run goes on); anything else aborts it and is raised after the teardown.
TRIAL_FAILURES = (TimeoutError, ConsoleClosed, ResultLineError, ScoreError, BenchError)


class TrialFrame(ABC):
    teardown_metric = TEARDOWN
    def __init__(self, driver: Driver, ctx: TrialContext, record: TrialRecord, **metadata: Any) -> None:
        self.driver, self.ctx, self.record = driver, ctx, record
        self.sink = SampleSink(driver.name, ctx.workload.name, driver.accel,
                               {"seq": record.seq, "repetition": record.repetition, "warmup": record.warmup,
                                **metadata})
        self.teardown_s: float | None = None  # how long the teardown took, once it returned

    def prepare(self) -> None:
        """Before the measured part, outside its failure handling (a driver's own error is raised)."""

    @abstractmethod
    def measure(self) -> None:
        """Start, await, probe; raises one of TRIAL_FAILURES when the trial fails."""

    def failure(self, error: Exception) -> str:
        """The record's reason for a failure."""
        return str(error)

    def observe(self) -> None:
        """Before the teardown: what the running instances still show (phases, facts)."""

    @abstractmethod
    def teardown(self) -> None:
        """Remove the trial's instances; a BenchError fails the trial."""

    def after_teardown(self) -> None:
        """Whatever happened to the teardown: what the trial ran beside its instances."""

    def conclude(self) -> None:
        """After the teardown: the figures made from what was recorded (here, the teardown's time)."""
        self.add_teardown()

    def add_teardown(self) -> None:
        if self.teardown_s is not None:
            self.sink.add(self.teardown_metric, self.teardown_s, "s", probe=TEARDOWN_HOW)

    def run(self) -> TrialRecord:
        """Fill the record with the trial's outcome; on an interrupt it says "aborted" and the
        interrupt goes on after the teardown."""
        record = self.record
        record.accel, record.started_at = self.driver.accel, time.strftime("%Y-%m-%dT%H:%M:%S%z")
        began = time.monotonic()
        self.prepare()
        try:
            self.measure()
            record.status = "ok"
        except TRIAL_FAILURES as e:
            record.reason = self.failure(e)
        except BaseException as e:  # an interrupt, or a harness bug: recorded, torn down, then raised
            mark_aborted(record, e)
            raise
        finally:
            with signals_deferred():  # the record is completed, the instances removed
                self.observe()
                try:
                    started = time.monotonic()
                    self.teardown()
                    self.teardown_s = round(time.monotonic() - started, 6)
                except BenchError as e:  # its engine died, say: this trial fails, the run goes on
                    fail_teardown(record, e)
                finally:
                    self.after_teardown()
                self.conclude()
                record.samples = self.sink.samples
                record.duration_s = round(time.monotonic() - began, 6)
        return record


def teardown_all(instances: list[Instance]) -> None:
    """Newest first; one that cannot be removed does not keep the others."""
    problems = []
    for instance in reversed(instances):
        try:
            instance.teardown()
        except BenchError as e:
            problems.append(str(e))
    if problems:
        raise BenchError("; ".join(problems))


def fail_teardown(record: TrialRecord, error: BenchError) -> None:
    """The instance could not be removed (`bench clean` removes it later): a trial that had
    succeeded fails, and one that had failed says this too."""
    if record.status == "ok":
        record.status, record.reason = "failed", ""
    record.reason = "; ".join(filter(None, [record.reason, f"teardown: {error}"]))


def mark_aborted(record: TrialRecord, error: BaseException) -> None:
    """An interrupt (Ctrl-C, SIGTERM) or a harness bug ended the trial: not a measurement's failure."""
    record.status = "aborted"
    if isinstance(error, KeyboardInterrupt):
        record.reason = "interrupted"
    elif isinstance(error, SystemExit):
        record.reason = f"terminated (exit {error.code})"
    else:
        record.reason = f"harness error: {type(error).__name__}: {error}"


@contextmanager
def signals_deferred() -> Iterator[None]:
    """A second Ctrl-C must not cut a teardown short and leave the instance behind, nor leave
    its record half-filled: SIGINT and SIGTERM wait until both are done, then act."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
