"""The one small interface every platform driver implements.

A driver prepares an `Instance` for one trial; the trial sets it up (untimed), starts it,
waits on its console for READY and RESULT, and always tears it down. Instances record the host-side
timestamps of their own start phases; the trial turns them into durations.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from bench import config
from bench.console import Console
from bench.images.manifest import Manifest
from bench.workload import Workload


@dataclass(frozen=True)
class TrialContext:
    run_id: str
    seq: int  # the trial's number within the run
    workload: Workload
    manifest: Manifest

    def name(self, platform: str) -> str:
        """Instance name: the run's prefix, so `bench clean` recognises it."""
        return f"{config.NAME_PREFIX}{self.run_id}-{self.seq}-{platform}"


class Instance(ABC):
    platform: str

    def __init__(self, ctx: TrialContext):
        self.ctx = ctx
        self.console = Console()
        # Host monotonic_ns at the end of each start phase, in order (e.g. created, started).
        self.phases: dict[str, int] = {}
        # What kind of instance this was: accelerator, CPU mode, image, ...
        self.facts: dict[str, str] = {}

    def setup(self) -> None:
        """Untimed per-trial preparation (e.g. a disk overlay); torn down by `teardown`."""

    def mark(self, phase: str) -> None:
        self.phases[phase] = time.monotonic_ns()

    @abstractmethod
    def start(self) -> None:
        """Create and start the instance; its output goes to `self.console`."""

    @abstractmethod
    def teardown(self) -> None:
        """Remove everything the instance created. Safe to call twice, or before start."""


class Driver(ABC):
    name: str

    @abstractmethod
    def prepare(self, ctx: TrialContext) -> Instance:
        """A new instance for this trial; nothing is created on the host yet."""
