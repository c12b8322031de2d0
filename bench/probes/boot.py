"""Boot time and its breakdown, from the host-side timestamps of the instance's start phases.

t0 is taken just before the first create call. Phases are consecutive segments that add up
to the boot time (t0 → READY seen by the harness): container create → start → READY;
VM domain defined (paused, console attached) → resumed → first console byte (kernel alive)
→ READY; native spawn → READY.
"""

from __future__ import annotations

from bench.model.sample import SampleSink

HOW = "host monotonic clock: t0 before the first create call, each phase's end as the harness saw it"


def segments(phase_ends_s: dict[str, float], ready_s: float) -> dict[str, float]:
    """Each phase's own duration; the last segment runs from the last phase to READY. A phase
    that ends with READY or after it is no step towards it: on native and docker the first
    output is the READY line itself, and a container's start call may return after READY."""
    out: dict[str, float] = {}
    previous_end = 0.0
    for name, end in sorted(phase_ends_s.items(), key=lambda kv: kv[1]):
        if end >= ready_s:
            continue
        out[name] = end - previous_end
        previous_end = end
    out["ready"] = ready_s - previous_end
    return out


def record(sink: SampleSink, phase_ends_s: dict[str, float], ready_s: float) -> None:
    sink.add("boot_s", ready_s, "s", probe=HOW)
    for name, seconds in segments(phase_ends_s, ready_s).items():
        sink.add(f"boot_phase.{name}_s", seconds, "s", probe=HOW)
