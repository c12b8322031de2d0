"""Run directories made of known numbers, for the report, compare and export tests."""

from __future__ import annotations

from pathlib import Path

from bench.model.sample import Sample, parse_dimensions
from bench.model.trial import TrialRecord
from bench.rundir.info import RunInfo
from bench.rundir.results import RunDir

KINDS = {"boot_s": ("s", "lower"), "score": ("events/s", "higher"), "mem_pss_mean_mib": ("MiB", "lower"),
         "image_mib": ("MiB", "lower"), "instance_disk_mib": ("MiB", "lower"),
         "boot_phase.created_s": ("s", "lower"), "boot_phase.ready_s": ("s", "lower"),
         "vmm_overhead_mib": ("MiB", "lower"), "randread_iops": ("IOPS", "higher")}
FACTS = {
    "native": {"isolation.kernel": "the host's (6.1)", "isolation.namespaces": "none (shares the host's)",
               "isolation.seccomp": "none", "cpus": "1", "cpuset": "1", "memory_mib": "512"},
    "docker": {"isolation.kernel": "the host's (6.1)", "isolation.namespaces": "mnt pid net uts ipc",
               "isolation.seccomp": "filter", "cpus": "1", "cpuset": "1", "memory_mib": "512"},
    "docker-app": {"isolation.kernel": "the host's (6.1)", "isolation.namespaces": "mnt pid net uts ipc",
                   "isolation.seccomp": "filter", "cpus": "1", "cpuset": "1", "memory_mib": "512"},
    "vm-os": {"isolation.kernel": "its own (6.1.0-cloud, tcg)", "isolation.namespaces": "mnt",
              "isolation.seccomp": "filter", "cpus": "1", "cpuset": "1", "memory_mib": "512"},
    "vm": {"isolation.kernel": "its own (6.1.0-cloud, tcg)", "isolation.namespaces": "mnt",
           "isolation.seccomp": "filter", "cpus": "1", "cpuset": "1", "memory_mib": "512"},
    "gvisor": {"isolation.kernel": "gVisor's user-space kernel (runsc 0.0~20221219.0, ptrace platform)",
               "isolation.namespaces": "mnt net uts ipc user", "isolation.seccomp": "filter", "cpus": "1",
               "cpuset": "1", "memory_mib": "512", "storage": "through gVisor's Sentry and gofer, which serve file "
               "I/O from the Sentry's own cache and do not pass O_DIRECT on to the host (disk figures measure "
               "that cache, not the device); beneath: overlay2"},
}


def baseline_values(n: int = 5) -> dict[tuple[str, str, str], list[float]]:
    """(workload, platform, metric) → n trial values, with a little spread (`metric@clients=1`:
    at those dimensions)."""
    wobble = [1.0, 1.01, 0.99, 1.005, 0.995, 1.002, 0.998][:n]
    base = {("boot", "native", "boot_s"): 0.03, ("boot", "docker", "boot_s"): 0.3, ("boot", "vm", "boot_s"): 5.5,
            ("boot", "native", "boot_phase.created_s"): 0.02, ("boot", "native", "boot_phase.ready_s"): 0.01,
            ("boot", "docker", "boot_phase.created_s"): 0.02, ("boot", "docker", "boot_phase.ready_s"): 0.28,
            ("boot", "vm", "boot_phase.created_s"): 0.6, ("boot", "vm", "boot_phase.ready_s"): 4.9,
            ("cpu", "native", "score"): 3100.0, ("cpu", "docker", "score"): 3090.0, ("cpu", "vm", "score"): 340.0,
            ("idle", "native", "mem_pss_mean_mib"): 1.9, ("idle", "docker", "mem_pss_mean_mib"): 13.8,
            ("idle", "vm", "mem_pss_mean_mib"): 222.0, ("idle", "native", "image_mib"): 189.0,
            ("idle", "docker", "image_mib"): 167.0, ("idle", "vm", "image_mib"): 210.0,
            ("idle", "docker", "instance_disk_mib"): 0.0, ("idle", "vm", "instance_disk_mib"): 0.5,
            ("idle", "vm", "vmm_overhead_mib"): 30.0}
    return {key: [value * w for w in wobble] for key, value in base.items()}


def sample(metric: str, value: float, kinds: dict[str, tuple[str, str]], platform: str, workload: str, accel: str,
           seq: int) -> Sample:
    """A metric named `get_ops_s@clients=1` is get_ops_s at the dimensions after the @."""
    name, _, dimensions = metric.partition("@")
    return Sample(name, value, *kinds.get(name, ("s", "lower")), platform, workload, accel,  # type: ignore[misc]
                  {"seq": seq}, parse_dimensions(dimensions))


def write_run(root: Path, run_id: str, values: dict[tuple[str, str, str], list[float]], suite: str = "default",
              vm_accel: str = "tcg", seed: int = 7, failed: int = 0, label: str = "",
              started_at: str = "2026-11-20T10:00:00+0000", host: dict | None = None,
              versions: dict | None = None, extra_info: dict | None = None,
              digests: dict[str, str] | None = None, kinds: dict[str, tuple[str, str]] | None = None,
              facts: dict[tuple[str, str], dict[str, str]] | None = None) -> Path:
    """One trial per (workload, platform) and repetition, carrying that repetition's value of
    each of its metrics; `failed` extra failed trials; `label` goes into names a report shows;
    `host` and `versions` replace those of run.json; `extra_info` is added to it; `digests`:
    platform → the digest a `hello` trial there printed; `kinds`: more metrics' (unit, better);
    `facts`: (workload, platform) → facts its trials add."""
    kinds = {**KINDS, **(kinds or {})}
    pairs = sorted({(w, p) for w, p, _ in values})
    repetitions = max(len(v) for v in values.values())
    info = {"run_id": run_id, "seed": seed, "plan": [], "command": f"bench run {label}", "started_at": started_at,
            "suite": {"name": suite, "description": f"synthetic {label}", "platforms": sorted({p for _, p in pairs}),
                      "workloads": sorted({w for w, _ in pairs})},
            "host": host or {"hostname": "synthetic", "memory_bytes": 64 * 2**30, "virtualised": True, "hypervisor": "kvm"},
            "storage": {"total_bytes": 500 * 2**30},
            "harness": {"commit": "0" * 40, "dirty": False}, "versions": versions or {"python": "3.11"},
            "images": {"artifacts": {"rootfs_tar": "ab" * 32}, "build_seconds": {"bootstrap": 30.0, "unpack": 7.0}},
            **(extra_info or {})}
    run = RunDir.create(root, RunInfo.from_json(info))
    seq = 0
    for repetition in range(repetitions):
        for workload, platform in pairs:
            seq += 1
            accel = vm_accel if platform.startswith("vm") else "none"
            samples = [sample(metric, vals[repetition], kinds, platform, workload + label, accel, seq)
                       for (w, p, metric), vals in values.items()
                       if (w, p) == (workload, platform) and repetition < len(vals)]
            run.append(TrialRecord(run_id, seq, platform, workload + label, repetition + 1, accel=accel, status="ok",
                                   samples=samples, facts={**FACTS.get(platform, FACTS["docker"]),
                                                           **(facts or {}).get((workload, platform), {})},
                                   memory_series=[[0.0, 10.0, None], [0.25, 12.0, 11.0], [0.5, 12.5, None]]
                                   if workload == "idle" else []))
    for platform, digest in sorted((digests or {}).items()):
        seq += 1
        accel = "tcg" if platform.startswith("vm") else "none"
        run.append(TrialRecord(run_id, seq, platform, "hello" + label, 1, accel=accel, status="ok", samples=[
            Sample("score", digest, "sha256", "equal", platform, "hello" + label, accel, {"seq": seq})],
            facts=(facts or {}).get(("hello", platform), {})))
    for _ in range(failed):
        seq += 1
        run.append(TrialRecord(run_id, seq, "docker", "cpu" + label, 1, accel="none", status="failed",
                               reason="docker: engine went away"))
    return run.path


def scaled(values: dict[tuple[str, str, str], list[float]], key: tuple[str, str, str], factor: float) -> dict:
    changed = dict(values)
    changed[key] = [v * factor for v in values[key]]
    return changed
