"""Boot time and its breakdown, from the host-side timestamps of the instance's start phases.

t0 is taken just before the first create call. Phases are consecutive segments that add up
to the boot time (t0 → READY seen by the harness): container create → start → READY;
native spawn → READY; a VM's machine made (paused, console attached) → resumed → firmware (to
the kernel's first console line) → kernel (to the init's first line) → init (to READY).
"""

from __future__ import annotations

from bench.guest.bootlines import FIRMWARE, KERNEL
from bench.model.sample import SampleSink

HOW = "host monotonic clock: t0 before the first create call, each phase's end as the harness saw it"


INIT = "init"
FIRST_OUTPUT = "first_output"


def segments(phase_ends_s: dict[str, float], ready_s: float) -> dict[str, float]:
    """Each phase's own duration; the last segment runs from the last phase to READY, and is
    a VM's init when the kernel's boot ended right before it. A phase that ends with READY or
    after it is no step towards it: on native and docker the first output is the READY line
    itself, and a container's start call may return after READY. Where the firmware's end is
    known, the first console byte (the firmware's banner, or the kernel's) splits nothing."""
    out: dict[str, float] = {}
    previous_end, last = 0.0, ""
    for name, end in sorted(phase_ends_s.items(), key=lambda kv: kv[1]):
        if end >= ready_s or (name == FIRST_OUTPUT and FIRMWARE in phase_ends_s):
            continue
        out[name] = end - previous_end
        previous_end, last = end, name
    out[INIT if last == KERNEL else "ready"] = ready_s - previous_end
    return out


def record(sink: SampleSink, phase_ends_s: dict[str, float], ready_s: float) -> None:
    sink.add("boot_s", ready_s, "s", probe=HOW)
    for name, seconds in segments(phase_ends_s, ready_s).items():
        sink.add(f"boot_phase.{name}_s", seconds, "s", probe=HOW)
