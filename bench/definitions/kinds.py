"""Every kind of workload, declared once: what the harness does with a workload of that kind.
Every decision that depends on a workload's kind reads these traits; no module compares kind
names. A new kind is one entry here; a new shape of trial is also one entry in the runner's and
the schedule's tables of trials (run/runner.py, run/schedule.py)."""

from __future__ import annotations

from dataclasses import dataclass


NEIGHBOURS = "neighbours"  # the Noisy neighbours matrix


@dataclass(frozen=True)
class WorkloadKind:
    name: str
    summary: str
    own_figures: bool = True  # has [score] or [metrics]; else the harness's probes measure it
    network: bool = False  # may have a network path to the host (and a host-side client)
    measured: bool = True  # a suite may name it; a stress runs only beside an interference victim
    headline: str = ""  # its headline figure whatever it holds ("": its score or first metric)
    as_root: bool = False  # the launcher keeps root (the exposure probe asks what root can reach)
    once_per_platform: bool = False  # deterministic: one measured trial per platform is enough
    composite: bool = False  # runs other workloads' commands (a victim and its stresses)
    user_image: bool = False  # may run from a user's image
    victim: bool = False  # may be an interference workload's victim
    trial: str = "single"  # the trial that runs it: single, density (instances at once), interference
    exposure_report: bool = False  # its output is the exposure probe's report, read into figures
    report_section: str = ""  # the report's section of its own, beside the common tables (NEIGHBOURS)


KINDS: dict[str, WorkloadKind] = {k.name: k for k in (
    WorkloadKind("single", "one instance runs the command once", network=True, user_image=True, victim=True),
    WorkloadKind("density", "instances kept running together, one more at a time", own_figures=False,
                 headline="density_mem_mib", trial="density"),
    WorkloadKind("interference", "a victim alone and beside a neighbour running each stress", composite=True,
                 trial="interference", report_section=NEIGHBOURS),
    WorkloadKind("stress", "a neighbour's load, run only beside a victim", own_figures=False, network=True,
                 measured=False),
    WorkloadKind("exposure", "the probe of what the instance's kernel lets it reach", own_figures=False,
                 headline="syscalls_host_reachable", as_root=True, once_per_platform=True, exposure_report=True),
)}
