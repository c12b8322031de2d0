"""Named points where a run can be made to die by SIGKILL, for crash tests: the environment
variable BENCH_KILL_AT="<where>:<point>" (a trial's seq, or "build") ends the process at that
point, as `kill -9` would, with nothing run after it: no `finally`, no teardown, no record.
Unset (always, outside tests), each point costs one dictionary look-up.

Points: a trial's `started` (its instance started), `servers` (a network workload's host
servers listening, before its instance starts), `ready` (READY and RESULT seen, the instance
still up), `client` (a server workload's host client running), `instance-K` (a density trial's K-th instance ready), `record` (half of the
trial's line written to trials.jsonl); an image build's `app_images` (its work directory made)
and `engine_preload` (vm-docker's disk: the preloading dockerd answering).
"""

from __future__ import annotations

import os
import signal

ENV = "BENCH_KILL_AT"


def armed(where: object, point: str) -> bool:
    return os.environ.get(ENV) == f"{where}:{point}"


def reach(where: object, point: str) -> None:
    if armed(where, point):
        os.kill(os.getpid(), signal.SIGKILL)
