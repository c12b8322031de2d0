"""`bench tune` and `--reset`: the host's noise sources that can be set, set for the instance
CPUs, and exactly the prior state put back.

What it sets (each where the host has it and a host profile does not say otherwise): the
performance governor and boost off on the instance CPUs, every IRQ that may land on them moved to
the other CPUs, and irqbalance paused (SIGSTOP; SIGCONT on reset) so that it does not move them
back. Before anything is written, every prior value is saved in the cache's tune/state.json; the
state is then narrowed to what was actually changed. `--reset` writes the saved values back,
reads each one again and removes the state only when all of them match. A run with `--tune`
resets at its end; a crashed one is reset by `bench clean` (its pid is gone); a host tuned by
`bench tune` itself stays tuned until `bench tune --reset`.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import config
from bench.definitions.hostprofile import TuneChoice
from bench.errors import BenchError
from bench.host import killpoints, noise
from bench.host.files import write_json
from bench.host.noise import HostFiles
from bench.host.proc import alive
from bench.progress import Progress


@dataclass(frozen=True)
class Knob:
    name: str
    path: str
    prior: str
    wanted: str


@dataclass
class State:
    saved_at: str
    owner: str  # "bench tune", or "run" for a `bench run --tune`
    pid: int  # the process that tuned: a run's death means its state is a crash's leftover
    cpus: list[int]
    knobs: list[Knob] = field(default_factory=list)
    paused: list[int] = field(default_factory=list)  # irqbalance pids stopped

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> State:
        knobs = [Knob(**k) for k in data.pop("knobs", [])]  # type: ignore[arg-type, attr-defined]
        return cls(**data, knobs=knobs)  # type: ignore[arg-type]

    def applied(self) -> dict[str, str]:
        """What the tuning set: knob → value (run.json's `tuned`)."""
        found = {k.name: k.wanted for k in self.knobs}
        if self.paused:
            found["irqbalance"] = f"paused (pid {', '.join(map(str, self.paused))})"
        return found


def state_path() -> Path:
    return config.cache_dir() / "tune" / "state.json"


def saved() -> State | None:
    path = state_path()
    try:
        return State.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as e:
        raise BenchError(f"{path}: unreadable tuning state ({e}); restore the host by hand, then remove it") from None


def plan(cpus: tuple[int, ...], choice: TuneChoice, files: HostFiles) -> tuple[list[Knob], list[str]]:
    """The knobs to set and their prior values; one line for each the host lacks."""
    knobs: list[Knob] = []
    missing: list[str] = []
    if choice.governor:
        found = [(c, files.cpu(c, "cpufreq/scaling_governor")) for c in cpus]
        knobs += [Knob(f"governor cpu{c}", str(files.path(f"sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor")),
                       g, "performance") for c, g in found if g is not None and g != "performance"]
        if all(g is None for _, g in found):
            missing.append("cpu frequency: no cpufreq on this host (a VM, or the firmware sets the clock): nothing to set")
    if choice.boost:
        for relative, off in (("sys/devices/system/cpu/cpufreq/boost", "0"),
                              ("sys/devices/system/cpu/intel_pstate/no_turbo", "1")):
            value = files.read(relative)
            if value is not None:
                if value != off:
                    knobs.append(Knob("boost", str(files.path(relative)), value, off))
                break
        else:
            missing.append("boost/turbo: no boost control on this host: nothing to set")
    if choice.irqs:
        online = noise.parse_cpu_list(files.read("sys/devices/system/cpu/online") or "")
        others = online - set(cpus)
        if not others:
            missing.append(f"irq affinity: no CPU outside {noise.cpu_list_text(cpus)} to move IRQs to")
        else:
            for irq, allowed in noise.irq_affinities(files).items():
                relative = f"proc/irq/{irq}/smp_affinity_list"
                if allowed & set(cpus):
                    knobs.append(Knob(f"irq {irq} affinity", str(files.path(relative)), files.read(relative) or "",
                                      noise.cpu_list_text(others)))
    return knobs, missing


def apply(cpus: tuple[int, ...], owner: str, choice: TuneChoice = TuneChoice(), files: HostFiles = HostFiles()) -> tuple[State, list[str]]:
    """Tune the host for `cpus`: the state saved first, then each knob set. The lines say what
    was set and what could not be. A BenchError when the host is tuned already or nothing could
    be done."""
    if (earlier := saved()) is not None:
        raise BenchError(f"the host is tuned already ({earlier.owner}, pid {earlier.pid}, at {earlier.saved_at}): "
                         "`bench tune --reset` first")
    knobs, lines = plan(cpus, choice, files)
    balancers = noise.irqbalance_pids() if choice.irqbalance else []
    state = State(time.strftime("%Y-%m-%dT%H:%M:%S%z"), owner, os.getpid(), list(cpus), knobs, balancers)
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, state.to_json())  # before anything changes: a crash from here on is restorable
    applied = []
    for knob in knobs:
        try:
            Path(knob.path).write_text(knob.wanted)
        except OSError as e:
            lines.append(f"{knob.name}: not set ({e.strerror or e}): left at {knob.prior}")
            continue
        now = _read(knob.path)
        if not _same(knob, now, knob.wanted):
            lines.append(f"{knob.name}: wrote {knob.wanted}, reads {now}")
        applied.append(knob)
    paused = []
    for pid in balancers:
        try:
            os.kill(pid, signal.SIGSTOP)
            paused.append(pid)
        except OSError as e:
            lines.append(f"irqbalance (pid {pid}): not paused ({e.strerror})")
    if not choice.irqbalance:
        lines.append("irqbalance: left alone (the host profile says so)")
    elif not balancers:
        lines.append("irqbalance: not running: nothing to pause")
    state.knobs, state.paused = applied, paused
    if not applied and not paused:
        path.unlink(missing_ok=True)
        raise BenchError("tune: nothing could be set: " + "; ".join(lines or ["the host has no knob to set"]))
    write_json(path, state.to_json())
    lines[:0] = [f"set {k.name}: {k.prior} → {k.wanted}" for k in applied] + [f"paused irqbalance (pid {p})" for p in paused]
    return state, lines


def reset(state: State | None = None) -> list[str]:
    """The saved state written back and read again; the state file removed when all of it holds."""
    state = state or saved()
    if state is None:
        return ["the host is not tuned by vmct-bench: nothing to reset"]
    lines, failed = [], False
    for knob in state.knobs:
        try:
            Path(knob.path).write_text(knob.prior)
        except OSError as e:
            failed = True
            lines.append(f"{knob.name}: could not restore {knob.prior} ({e.strerror or e})")
            continue
        now = _read(knob.path)
        if not _same(knob, now, knob.prior):
            failed = True
            lines.append(f"{knob.name}: restored {knob.prior}, reads {now}")
        else:
            lines.append(f"restored {knob.name}: {knob.prior}")
    for pid in state.paused:
        try:
            os.kill(pid, signal.SIGCONT)
            lines.append(f"resumed irqbalance (pid {pid})")
        except ProcessLookupError:
            lines.append(f"irqbalance (pid {pid}) is gone: nothing to resume")
    if failed:
        raise BenchError("tune --reset: " + "; ".join(line for line in lines if not line.startswith(("restored", "resumed")))
                         + f" (the saved state stays in {state_path()})")
    state_path().unlink(missing_ok=True)
    return lines


@contextmanager
def for_run(enabled: bool, cpus: tuple[int, ...], choice: TuneChoice, progress: Progress) -> Iterator[dict[str, str] | None]:
    """`bench run --tune`: the host tuned for the run and restored at its end, whatever ends it;
    what was set (run.json's `tuned`), or None. A host tuned by `bench tune` already keeps that
    tuning; one where nothing can be set runs untuned, and says so."""
    if not enabled:
        yield None
        return
    if (earlier := saved()) is not None:
        progress.note(f"tune: the host is tuned already ({earlier.owner}): the run keeps that tuning")
        yield earlier.applied()
        return
    try:
        state, lines = apply(cpus, "run", choice)
    except BenchError as e:
        progress.note(f"warning: {e}; the run goes on untuned")
        yield None
        return
    for line in lines:
        progress.note(f"tune: {line}")
    killpoints.reach("tune", "applied")
    try:
        yield state.applied()
    finally:
        try:
            restored = reset(state)
            progress.note(f"tune: the host's prior state restored ({len(restored)} setting(s))")
        except BenchError as e:
            progress.note(f"warning: {e}")


def crashed() -> State | None:
    """A run's tuning whose run is gone: `bench clean` resets it."""
    state = saved()
    if state is None or state.owner != "run" or alive(state.pid):
        return None
    return state


def _same(knob: Knob, read: str, written: str) -> bool:
    """A CPU list reads back in the kernel's spelling ("0-2" for "0,1,2")."""
    if knob.path.endswith("smp_affinity_list"):
        try:
            return noise.parse_cpu_list(read) == noise.parse_cpu_list(written)
        except ValueError:
            return False
    return read == written


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as e:
        return f"unreadable ({e.strerror})"
