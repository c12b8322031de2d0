"""A platform driver whose instance "prints" scripted console lines: the trial logic without
engines."""

from __future__ import annotations

import os
import threading

from bench.model.resources import allot
from bench.net.servers import NetworkPath
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes.disk import Footprint


class ScriptedInstance(Instance):
    platform = "fake"

    def __init__(self, ctx: TrialContext, lines: list[str], close: bool, delay_s: float):
        super().__init__(ctx)
        self.lines, self.close, self.delay_s = lines, close, delay_s
        self.torn_down = 0

    def setup(self) -> None:
        if self.ctx.workload.network:
            self.network = NetworkPath("127.0.0.1", "loopback (fake)")

    def start(self) -> None:
        self.mark("spawned")

        def speak() -> None:
            for line in self.lines:
                self.console.feed((line + "\n").encode())
            if self.close:
                self.console.close("process exited with code 1")
        threading.Timer(self.delay_s, speak).start()

    def host_pids(self) -> list[int]:
        return [os.getpid()]  # the test process stands in for the instance

    def disk_growth(self) -> Footprint | None:
        return Footprint(2**20, "fake layer")

    def teardown(self) -> None:
        self.torn_down += 1


class ScriptedDriver(Driver):
    name = "fake"

    def __init__(self, lines: list[str], close: bool = False, delay_s: float = 0.0):
        super().__init__(allot(1, 256))
        self.lines, self.closes, self.delay_s = lines, close, delay_s  # `close` is the driver's own method
        self.instances: list[ScriptedInstance] = []

    def prepare(self, ctx: TrialContext) -> Instance:
        self.instances.append(ScriptedInstance(ctx, self.lines, self.closes, self.delay_s))
        return self.instances[-1]

    def _measure_image(self, ctx: TrialContext) -> Footprint:
        return Footprint(3 * 2**20, "fake image")
