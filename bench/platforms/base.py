"""The one small interface every platform driver implements.

A driver prepares an `Instance` for one trial; the trial sets it up (untimed), starts it,
waits on its console for READY and RESULT, and always tears it down. Instances record the host-side
timestamps of their own start phases; the trial turns them into durations.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from bench import config
from bench.definitions.workload import Workload
from bench.errors import BenchError
from bench.guest.console import Console
from bench.images.manifest import Manifest
from bench.images.user_image import UserImage
from bench.model.registry import slug
from bench.model.resources import Resources
from bench.model.sample import NO_ACCEL
from bench.net.servers import NetworkPath
from bench.probes.disk import Footprint, tree_allocated


@dataclass(frozen=True)
class TrialContext:
    run_id: str
    seq: int  # the trial's number within the run
    workload: Workload
    manifest: Manifest
    instance: int = 0  # the k-th of several instances in one trial (density); 0 when alone
    seconds: int | None = None  # the suite's measured duration for the workload's {seconds}
    user_image: UserImage | None = None  # the user's image the workload runs from, if it names one
    probe_tree: bool = False  # after RESULT, the instance's tree probe hashes its user space

    @property
    def launch_name(self) -> str:
        """What the launcher is given: the workload's name, with the suite's duration (cpu@2),
        and +tree when the tree probe is to run after RESULT."""
        name = self.workload.name
        if self.seconds is not None and self.workload.seconds is not None:
            name = f"{name}@{self.seconds}"
        return f"{name}+tree" if self.probe_tree else name

    @property
    def rootfs_dir(self) -> str:
        """The directory tree a chroot or LXC runs from: the user's image flattened, or the rootfs."""
        return str(self.user_image.rootfs_dir) if self.user_image else self.manifest.rootfs_dir

    @property
    def launcher(self) -> str:
        return self.user_image.launcher if self.user_image else config.GUEST_LAUNCHER

    def name(self, platform: str) -> str:
        """Instance name: the run's prefix, so `bench clean` recognises it."""
        suffix = f"-{self.instance}" if self.instance else ""
        return f"{config.NAME_PREFIX}{self.run_id}-{self.seq}-{slug(platform)}{suffix}"


class Instance(ABC):
    platform: str

    def __init__(self, ctx: TrialContext):
        self.ctx = ctx
        self.console = Console()
        # Host monotonic_ns at the end of each start phase, in order (e.g. created, started).
        self.phases: dict[str, int] = {}
        # What kind of instance this was: accelerator, CPU mode, image, ...
        self.facts: dict[str, str] = {}

    # For a VM: the guest's RAM, which the memory probe separates from the VMM's own memory.
    guest_ram_bytes: int | None = None
    # Which host processes host_pids gives: what the memory probe's record says it summed.
    host_processes: str = "the instance's host processes"
    # For a network workload, set by the end of `setup`: how the instance reaches the host.
    network: NetworkPath | None = None

    def setup(self) -> None:
        """Untimed per-trial preparation (e.g. a disk overlay); torn down by `teardown`."""

    @abstractmethod
    def host_pids(self) -> list[int]:
        """The host processes that make up the instance now (empty before it exists).
        Called several times a second from the memory probe's thread: must be cheap."""

    def main_pid(self) -> int | None:
        """The instance's outermost host process (its isolation is read from it), if running."""
        pids = self.host_pids()
        return pids[0] if pids else None

    def disk_growth(self) -> Footprint | None:
        """What this instance added to the disk so far, or None if it has no layer of its own."""
        return None

    def boot_events(self) -> dict[str, int]:
        """Start phases read off the instance's output once it is over (a VM's firmware and
        kernel), as host monotonic_ns."""
        return {}

    def release_tree_probe(self) -> None:
        """Tell a launcher started with +tree that the trial's figures are read: it may hash."""
        raise BenchError(f"{self.platform} cannot run the tree probe")

    def mark(self, phase: str) -> None:
        self.phases[phase] = time.monotonic_ns()

    @abstractmethod
    def start(self) -> None:
        """Create and start the instance; its output goes to `self.console`."""

    @abstractmethod
    def teardown(self) -> None:
        """Remove everything the instance created. Safe to call twice, or before start."""


def follow(proc: subprocess.Popen[bytes], console: Console, what: str) -> threading.Thread:
    """A thread feeding `console` from the process's stdout until it ends (started)."""
    def read() -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            console.feed(chunk)
        console.close(f"{what} exited with code {proc.wait()}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def user_tree_footprint(image: UserImage) -> Footprint:
    """A user's image flattened, without the harness's own directory in it."""
    return Footprint(tree_allocated(image.rootfs_dir) - tree_allocated(image.harness_dir),
                     "the image's flattened directory tree, allocated bytes (hard links once; the harness's "
                     "directory left out)")


class Driver(ABC):
    name: str
    accel: str = NO_ACCEL

    def __init__(self, resources: Resources):
        self.resources = resources
        self._footprints: dict[str, Footprint] = {}

    def image_footprint(self, ctx: TrialContext) -> Footprint:
        """The image a trial's workload runs from, on disk; measured once per driver and image."""
        key = self.image_for(ctx)
        if key not in self._footprints:
            self._footprints[key] = self._measure_image(ctx)
        return self._footprints[key]

    def image_for(self, ctx: TrialContext) -> str:
        """Which image a workload runs from: one for all, unless the platform has one per
        workload, or the workload names a user's image."""
        return ctx.user_image.id if ctx.user_image else "image"

    @abstractmethod
    def _measure_image(self, ctx: TrialContext) -> Footprint: ...

    def instance_facts(self) -> dict[str, str]:
        return self.resources.describe()

    def artifact_digest(self, ctx: TrialContext) -> str:
        """The digest of the artifact a trial's instance runs from: here the root filesystem
        tarball the directory tree (or Podman's image) came from, or a user's image's id."""
        return ctx.user_image.id if ctx.user_image else ctx.manifest.rootfs_tar.sha256

    @abstractmethod
    def prepare(self, ctx: TrialContext) -> Instance:
        """A new instance for this trial; nothing is created on the host yet."""

    def close(self) -> None:
        """Remove what the driver made for the whole run (the VM's network). Safe to call twice."""
