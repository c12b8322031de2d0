"""Portability, measured on one host: which artifact each platform ran, on what (runtime, engine,
kernel, machine model, firmware, disk format), whether it moved unchanged or needed a conversion,
and whether it ran the same user space (hello's digest) or failed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench.model import registry, units
from bench.model.trial import TrialRecord
from bench.rundir.runs import LoadedRun

PROOF = "hello"
RAN, CONVERTED, FAILED = "ran", "converted, ran", "failed"
ROOTFS, CONTAINER_IMAGE, APP_IMAGES, VM_DISK = "root filesystem tarball", "container image", "application-only images", "VM disk (qcow2)"
ARTIFACT_ORDER = (CONTAINER_IMAGE, APP_IMAGES, ROOTFS, VM_DISK)


@dataclass(frozen=True)
class Move:
    """One artifact on one target."""
    artifact: str  # what moved, with its digest where the run recorded it
    platform: str
    target: str  # what ran it: runtime, engine, kernel; machine, firmware, VMM
    how: str  # "unchanged", or the conversion with its time and size
    outcome: str  # RAN, CONVERTED or FAILED
    detail: str  # the digest it printed, or why it failed


def artifact_of(platform: str) -> str:
    """Which of the run's artifacts a platform runs (the container image inside vm-docker's VM)."""
    known = registry.known(platform)
    if known is None:
        return "unknown"
    if known.kind in ("native", "lxc", "podman"):
        return ROOTFS
    if known.app_image:
        return APP_IMAGES
    if known.kind == "container" or known.boot_profile == "docker":
        return CONTAINER_IMAGE
    return VM_DISK


def _digest_of(run: LoadedRun, artifact: str) -> str:
    key = {ROOTFS: "rootfs_tar", CONTAINER_IMAGE: "container_image", VM_DISK: "vm_disk"}.get(artifact)
    sha = str(run.info.images.get("artifacts", {}).get(key, "")) if key else ""
    return units.digest(sha.removeprefix("sha256:")) if sha else ""


def _target(record: TrialRecord) -> str:
    facts = record.facts
    kernel = facts.get("isolation.kernel", "").split(":", 1)[0]
    if "engine_disk" in facts:
        return f"Docker in a VM: {kernel or 'the guest kernel'}"
    if "machine" in facts:
        vmm = facts.get("vmm", "").split(":", 1)[0].split(" (", 1)[0]
        return f"{facts['machine'].split(' (', 1)[0]}, {facts.get('firmware', '?')}, {vmm}"
    runtime = facts.get("runtime", "").split(" (", 1)[0]
    return ", ".join(part for part in (runtime, kernel) if part) or record.platform


def moves(run: LoadedRun) -> list[Move]:
    """Each platform's last hello trial: what it ran and how it went."""
    last: dict[str, TrialRecord] = {}
    for record in run.records:
        if record.workload == PROOF and not record.warmup:
            last[record.platform] = record
    found = []
    for platform, record in sorted(last.items(), key=lambda kv: (registry.order(kv[0]), kv[0])):
        artifact = artifact_of(platform)
        digest = _digest_of(run, artifact)
        converted = record.facts.get("disk_format", "")
        how = f"converted to {converted}" if converted else "unchanged"
        if record.ok:
            outcome, detail = (CONVERTED if converted else RAN), f"hello {units.digest(str(record.score))}"
        else:
            outcome, detail = FAILED, record.reason or "failed"
        found.append(Move(f"{artifact} {digest}".strip(), platform, _target(record), how, outcome, detail))
    return found


@dataclass(frozen=True)
class Summary:
    """What the matrix shows, in the finding's words."""
    unchanged: Counter[str]  # artifact kind → targets it ran on unchanged
    converted: list[str]  # the formats a converted disk ran from
    failed: list[str]  # "platform: reason"
    digests: set[str]  # every hello digest printed

    @property
    def same_user_space(self) -> bool:
        return len(self.digests) == 1


def summarise(found: list[Move]) -> Summary:
    unchanged: Counter[str] = Counter()
    for move in found:
        if move.outcome == RAN:
            unchanged[artifact_kind(move.artifact)] += 1
    converted = [move.how.removeprefix("converted to ").split(" ", 1)[0] for move in found if move.outcome == CONVERTED]
    failed = [f"{move.platform}: {move.detail}" for move in found if move.outcome == FAILED]
    digests = {move.detail for move in found if move.outcome != FAILED}
    return Summary(unchanged, converted, failed, digests)


def artifact_kind(artifact: str) -> str:
    return next((kind for kind in ARTIFACT_ORDER if artifact.startswith(kind)), artifact)
