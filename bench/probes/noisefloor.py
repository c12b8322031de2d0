"""The noise floor's calibration: a fixed CPU loop, repeated on the instances' CPUs natively
just before a run's first trial, each repetition timed by the process itself.

The loop is pure integer work in a child interpreter pinned to those CPUs (the harness stays on
its own): nothing but the CPU, its frequency and whatever else runs there moves its time. A
steady neighbour slows every repetition alike, so the CV misses it: the disturbance probe runs
around the calibration and says what share of the CPUs other processes took meanwhile.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from bench.analysis import stats
from bench.analysis.noisefloor import NoiseFloor
from bench.errors import BenchError
from bench.probes.disturbance import DisturbanceProbe

REPETITIONS = 10
WARMUP = 2  # repetitions run first and dropped: the interpreter's caches warming
LOOP = 800_000  # iterations: about 0.1 s of one core here
PROGRAM = """
import sys, time
loop, count = int(sys.argv[1]), int(sys.argv[2])
for _ in range(count):
    started = time.perf_counter_ns()
    total = 0
    for i in range(loop):
        total = (total + i * i) % 1000003
    print(time.perf_counter_ns() - started, flush=True)
"""


def measure(cpus: tuple[int, ...], repetitions: int = REPETITIONS, loop: int = LOOP) -> NoiseFloor:
    """The calibration on `cpus`; a BenchError when it cannot run."""
    around = DisturbanceProbe(cpus, tuple(sorted(os.sched_getaffinity(0))))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    around.start()
    try:
        done = subprocess.run([sys.executable, "-c", PROGRAM, str(loop), str(repetitions + WARMUP)],
                              capture_output=True, text=True, timeout=120,
                              preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError(f"noise floor: the calibration loop did not run: {e}") from None
    if done.returncode != 0:
        raise BenchError(f"noise floor: the calibration loop failed: {done.stderr.strip().splitlines()[-1:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    beside = around.finish(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    seconds = [int(line) / 1e9 for line in done.stdout.split()][WARMUP:]
    return NoiseFloor(stats.cv(seconds), len(seconds), sum(seconds) / len(seconds), ",".join(map(str, cpus)),
                      f"{len(seconds)} repetitions of a fixed {loop:,}-iteration integer loop, natively on those "
                      f"CPUs, after {WARMUP} dropped", round(beside.foreign_pct, 2) if beside.resolved else None)
