"""Podman, rootful and daemonless: the same rootfs tarball imported with `podman import`; each
trial a `podman create` and a `podman start` (the two timed phases), its output read with
`podman logs --follow`, removed with `podman rm --force`.

Configured on the command line (bench/host/podman_cli.py), plus the k8s-file log driver. The
same limits as Docker (the suite's cpuset and CPU quota, memory without swap), no privileges,
no-new-privileges, no network unless the workload needs one: then the run's own internal
Podman network (bench/net/podman_network.py).
"""

from __future__ import annotations

import json
import resource
import subprocess
import threading
from pathlib import Path

from bench import config
from bench.errors import BenchError
from bench.host import engines
from bench.host.podman_cli import PODMAN, labelled, podman, version
from bench.images.manifest import Manifest
from bench.images.user_image import UserImage
from bench.model.registry import BY_NAME, Platform
from bench.model.resources import Resources
from bench.net.podman_network import PodmanNetwork
from bench.net.servers import server_env
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes import isolation, processes
from bench.probes.disk import Footprint, filesystem_of

REPOSITORY = f"{config.LABEL}/rootfs"


def image(manifest: Manifest) -> str:
    """The rootfs tarball as a Podman image (imported on first use); its id."""
    tag = f"{REPOSITORY}:{manifest.rootfs_tar.sha256.removeprefix('sha256:')[:16]}"
    found = subprocess.run([*PODMAN, "image", "exists", tag], capture_output=True).returncode == 0
    if not found:
        podman("import", "--change", f"LABEL {config.LABEL}=image", manifest.rootfs_tar.path, tag)
    return podman("image", "inspect", "--format", "{{.Id}}", tag).strip()


def user_image(built: UserImage) -> str:
    """A user's image in Podman's store, loaded from the archive Docker saved (same id)."""
    if subprocess.run([*PODMAN, "image", "exists", built.id], capture_output=True).returncode != 0:
        podman("load", "--quiet", "--input", str(built.archive))
    return built.id.removeprefix("sha256:")


def ulimits() -> list[str]:
    """The harness's own open-files and process limits (the process count capped at the
    kernel's pid_max, which bounds it anyway). Podman's default asks crun to raise them,
    which fails where the host withholds CAP_SYS_RESOURCE ("setrlimit: Operation not
    permitted"); Docker's containers inherit the daemon's limits, so this is the same."""
    try:
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        pid_max = resource.RLIM_INFINITY
    found = []
    for name, which, cap in (("nofile", resource.RLIMIT_NOFILE, None), ("nproc", resource.RLIMIT_NPROC, pid_max)):
        soft, hard = resource.getrlimit(which)
        if cap is not None:
            soft, hard = (cap if v == resource.RLIM_INFINITY else min(v, cap) for v in (soft, hard))
        found.append(f"--ulimit={name}={-1 if soft == resource.RLIM_INFINITY else soft}:"
                     f"{-1 if hard == resource.RLIM_INFINITY else hard}")
    return found


def leftover_containers() -> list[str]:
    return labelled("ps", "--all", name="{{.Names}}")


def remove(name: str) -> None:
    podman("rm", "--force", "--time", "0", name)


class PodmanInstance(Instance):
    platform = "podman"
    host_processes = "conmon and every process in the container's cgroup"

    def __init__(self, ctx: TrialContext, resources: Resources, image_id: str, storage: str, runtime: str,
                 network: PodmanNetwork | None = None):
        super().__init__(ctx)
        self.run_network = network
        self.resources = resources
        self.image_id = image_id
        self.name = ctx.name(self.platform)
        self.created = False
        self._logs: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._pids: tuple[int, int] | None = None  # (conmon, the container's PID 1)
        self._procs_file: Path | None = None
        self.facts.update(image=image_id, security="default seccomp, no-new-privileges, not privileged",
                          storage=storage, runtime=runtime)
        self.facts.update(isolation.shared_kernel())

    def setup(self) -> None:
        if self.run_network is not None:
            self.run_network.raise_bridge()
            self.network = self.run_network.path(self.ctx.instance)
        self.facts["network"] = "the run's internal Podman network" if self.run_network else "none"

    def start(self) -> None:
        env = [f"--env={k}={v}" for k, v in sorted(server_env({}, self.network).items())]
        # A user's image: its own entrypoint replaced by the launcher, as root, which runs the
        # image's command as the image says; the harness's directory bind-mounted. `--user`
        # only where the image names a user: with it Podman writes /etc/passwd and /etc/group
        # into an image that has none (the tree probe would tell).
        command = [self.image_id, config.GUEST_LAUNCHER, "--hold", self.ctx.launch_name]
        if self.ctx.user_image is not None:
            command = [f"--entrypoint={self.ctx.launcher}", *(["--user=0:0"] if self.ctx.user_image.user else []),
                       f"--volume={self.ctx.user_image.harness_dir}:{config.IMAGE_HARNESS_DIR}:ro",
                       self.image_id, "--hold", self.ctx.launch_name]
        podman("create", "--name", self.name, f"--label={config.RUN_LABEL}={self.ctx.run_id}",
               f"--label={config.LABEL}=instance", "--log-driver=k8s-file", *ulimits(),
               *self._network_options(), "--security-opt=no-new-privileges",
               f"--cpuset-cpus={self.resources.cpuset_text}", f"--cpus={self.resources.cpus}",
               f"--memory={self.resources.memory_bytes}", f"--memory-swap={self.resources.memory_bytes}",
               f"--pids-limit={self.resources.pids_max}",
               *env, *command)
        self.created = True
        self.mark("created")
        podman("start", self.name)
        self.mark("started")
        # From the log's first line: nothing printed before this call is missed.
        self._logs = subprocess.Popen([*PODMAN, "logs", "--follow", self.name], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def release_tree_probe(self) -> None:
        podman("kill", "--signal", "USR1", self.name)

    def _network_options(self) -> list[str]:
        if self.run_network is None:
            return ["--network=none"]
        return [f"--network={self.run_network.name}", f"--ip={self.run_network.instance_address(self.ctx.instance)}"]

    def _read(self) -> None:
        assert self._logs is not None and self._logs.stdout is not None
        for chunk in iter(lambda: self._logs.stdout.read1(65536), b""):  # type: ignore[union-attr]
            self.console.feed(chunk)
        self.console.close("podman logs ended")

    def host_pids(self) -> list[int]:
        """conmon, then the members of the container's cgroup."""
        if self._pids is None:
            if not self.created:
                return []
            try:
                out = podman("inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}}", self.name, timeout=10)
                conmon, pid = (int(v) for v in out.split())
            except (BenchError, ValueError):
                return []
            if not pid:
                return []
            self._pids = (conmon, pid)
            self._procs_file = processes.cgroup_procs_file(pid)
        conmon, pid = self._pids
        if self._procs_file is None:
            return [conmon] + processes.tree(pid)
        return [conmon] + processes.read_procs(self._procs_file)

    def main_pid(self) -> int | None:
        self.host_pids()
        return self._pids[1] if self._pids else None

    def disk_growth(self) -> Footprint | None:
        if not self.created:
            return None
        try:
            size = podman("inspect", "--size", "--format", "{{.SizeRw}}", self.name, timeout=30).strip()
            return Footprint(int(size), "podman inspect --size: SizeRw, the writable layer")
        except (BenchError, ValueError):
            return None

    def teardown(self) -> None:
        try:
            if self.created:
                remove(self.name)
                self.created = False
        finally:
            if self._logs is not None:
                try:
                    self._logs.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._logs.kill()
                    self._logs.wait()
                self._logs = None
            if self._reader is not None:
                self._reader.join(timeout=5)


class PodmanDriver(Driver):
    name = "podman"

    def __init__(self, resources: Resources, platform: Platform = BY_NAME["podman"]) -> None:
        super().__init__(resources)
        self.platform = platform
        podman_version = version()  # fails now, with one line, if podman is missing
        info = json.loads(podman("info", "--format", "json", timeout=30))
        oci, store = info.get("host", {}).get("ociRuntime", {}), info.get("store", {})
        self.runtime = (f"podman {podman_version}, rootful, no daemon (conmon per container); OCI runtime "
                        f"{oci.get('name', '?')} {engines.runtime_version(oci.get('path') or oci.get('name', '?'))}")
        root = Path(store.get("graphRoot") or "/var/lib/containers")
        self.storage = (f"{store.get('graphDriverName', '?')} copy-on-write layer ({filesystem_of(root)}); the host's "
                        "page cache (O_DIRECT bypasses it)")
        self._image: str | None = None
        self.network: PodmanNetwork | None = None  # made when the run's first network workload needs it

    def _image_id(self, manifest: Manifest) -> str:
        if self._image is None:
            self._image = image(manifest)
        return self._image

    def prepare(self, ctx: TrialContext) -> Instance:
        if ctx.workload.network and self.network is None:
            self.network = PodmanNetwork.create(ctx.run_id)
        image_id = user_image(ctx.user_image) if ctx.user_image else self._image_id(ctx.manifest)
        return PodmanInstance(ctx, self.resources, image_id, self.storage, self.runtime,
                              self.network if ctx.workload.network else None)

    def close(self) -> None:
        if self.network is not None:
            try:
                self.network.destroy()
            finally:
                self.network = None

    def _measure_image(self, ctx: TrialContext) -> Footprint:
        image_id = user_image(ctx.user_image) if ctx.user_image else self._image_id(ctx.manifest)
        size = podman("image", "inspect", "--format", "{{.Size}}", image_id).strip()
        return Footprint(int(size), "podman image inspect: Size")
