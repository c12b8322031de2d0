"""Docker: the image imported from the rootfs tarball; create and start are two timed calls.

No privileges, Docker's default seccomp profile, no-new-privileges, no network (a network
workload gets the engine's default bridge, as a container would); the suite's
CPUs (a cpuset and the matching CPU quota) and memory limit. The platform's options
(model/registry.py) choose the variant: writes into the copy-on-write layer, or into a fresh volume
of its own at /var/tmp (where workloads write), created in setup and removed with the
container; the full-OS image, or each workload's application-only image
(bench/images/app_image.py); the engine's default OCI runtime (runc), or another one
registered with the engine.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import docker
import psutil

from bench import config
from bench.errors import BenchError
from bench.host import engines
from bench.images import user_image
from bench.images.manifest import Artifact
from bench.model.registry import BY_NAME, Platform
from bench.model.resources import Resources
from bench.model.dimensions import DNAT, HOST, PROXY
from bench.net.servers import NetworkPath, Route, server_env
from bench.platforms.base import Driver, Instance, TrialContext
from bench.probes import isolation, processes
from bench.probes.disk import Footprint, filesystem_of, tree_allocated


VOLUME_AT = "/var/tmp"


def image_of(ctx: TrialContext, platform: Platform) -> Artifact:
    """The image a workload runs from on this variant: a user's image itself, unchanged."""
    manifest, workload = ctx.manifest, ctx.workload.name
    if ctx.user_image is not None:
        return Artifact(ctx.user_image.source, ctx.user_image.id, ctx.user_image.bytes)
    if not platform.app_image:
        return manifest.container_image
    if workload not in manifest.app_images:
        raise BenchError(f"no application-only image of workload {workload!r}; run `bench images build`")
    return manifest.app_images[workload]


# Seen here: fio's direct-I/O random reads on gvisor ran 2.8x native's IOPS at half the p99
# latency, from the same disk. The Sentry does not pass O_DIRECT on to the host.
SENTRY_STORAGE = ("through gVisor's Sentry and gofer, which serve file I/O from the Sentry's own cache and do not "
                  "pass O_DIRECT on to the host (disk figures measure that cache, not the device); beneath: ")


RUNTIME_FIX = 'register it under "runtimes" in /etc/docker/daemon.json and reload dockerd (SIGHUP)'


def engine_info(client: docker.DockerClient) -> dict:
    try:
        return client.info()
    except engines.docker_failures() as e:
        raise BenchError(f"docker: {engines.first_line(e)}") from None


def engine_runtimes(info: dict) -> tuple[dict[str, str], str]:
    """From the engine's info: its OCI runtimes (name → binary), and its default one."""
    runtimes = {name: (spec or {}).get("path") or name for name, spec in sorted((info.get("Runtimes") or {}).items())}
    return runtimes, str(info.get("DefaultRuntime", "runc"))


def missing_runtimes(platform: Platform, known: dict[str, str]) -> list[str]:
    return [runtime for runtime in platform.runtimes() if runtime not in known]


def check_runtimes(platform: Platform, known: dict[str, str]) -> None:
    """A runtime the engine does not know is a one-line error before any trial starts."""
    if missing := missing_runtimes(platform, known):
        raise BenchError(f"platform {platform.name}: the Docker engine has no runtime {missing[0]!r} "
                         f"(it has: {', '.join(known) or 'none'}); {RUNTIME_FIX}")


def require_runtime(client: docker.DockerClient, platform: Platform) -> None:
    if platform.runtimes():
        check_runtimes(platform, engine_runtimes(engine_info(client))[0])


class ContainerInstance(Instance):
    platform = "docker"

    def __init__(self, ctx: TrialContext, client: docker.DockerClient, resources: Resources, platform: Platform,
                 storage: str, runtime: str = ""):
        super().__init__(ctx)
        self.platform = platform.name
        self.options = platform
        self.client = client
        self.resources = resources
        self.volume: str | None = None  # the volume's name, once created
        self.container_id: str | None = None
        self._reader: threading.Thread | None = None
        self._shim_pid: int | None = None
        self._init_pid: int | None = None
        self._procs_file: Path | None = None
        self.image = image_of(ctx, platform)
        self.facts.update(image=self.image.sha256,
                          security="default seccomp, no-new-privileges, not privileged", storage=storage)
        self.facts.update(isolation.shared_kernel())
        self.facts["runtime"] = runtime or "not recorded"
        # runc leaves the container's own processes in its cgroup; runsc puts its whole sandbox
        # there: the Sentry, the gofer and their ptrace stubs, which share the application's
        # memory through a memfd (so PSS, summed over them, counts it once).
        self.host_processes = ("the containerd shim and every process in the container's cgroup" + (
            " (gVisor's Sentry sandbox, its gofer and their ptrace stubs)" if platform.runtime == "runsc" else ""))
        if platform.runtime == "runsc":
            self.facts.update(isolation.user_space_kernel(runtime))
            self.facts["storage"] = SENTRY_STORAGE + storage

    def setup(self) -> None:
        if self.ctx.workload.network and self.options.host_network:
            self.network = HOST_NETWORK
        elif self.ctx.workload.network:
            self.network = default_bridge(self.client)
            if self.ctx.workload.client is not None:
                self.network = published(self.network, self.ctx.workload.client.port)
        self.facts["network"] = ("the host's network namespace" if self.options.host_network else "default bridge") \
            if self.network else "none"
        if self.network and self.options.network_runtime:
            self.facts["network"] += (f" (runtime {self.options.network_runtime}: the host kernel's network stack "
                                      "in the container's namespace, not gVisor's netstack)")
        if not self.options.volume:
            return
        try:
            self.client.api.create_volume(self.ctx.name(self.platform), labels={
                config.RUN_LABEL: self.ctx.run_id, config.LABEL: "instance"})
        except engines.docker_failures() as e:
            raise BenchError(f"docker: creating a volume: {engines.first_line(e)}") from None
        self.volume = self.ctx.name(self.platform)

    def start(self) -> None:
        try:
            self._create_and_start()
        except engines.docker_failures() as e:  # dockerd went away, image removed, ...
            raise BenchError(f"docker: {engines.first_line(e)}") from None

    def _create_and_start(self) -> None:
        api = self.client.api
        host_config = api.create_host_config(
            network_mode=("host" if self.options.host_network else "bridge") if self.network else "none",
            privileged=False, security_opt=["no-new-privileges"],
            cpuset_cpus=self.resources.cpuset_text, nano_cpus=self.resources.cpus * 10**9,
            mem_limit=self.resources.memory_bytes, memswap_limit=self.resources.memory_bytes,
            pids_limit=self.resources.pids_max,
            binds=self._binds() or None,
            runtime=self.options.runtime_for(self.network is not None) or None,
            port_bindings=self._published())
        created = api.create_container(
            self.image.sha256,
            # A user's image keeps its own Entrypoint and User in its config: the launcher
            # starts as root in their place and runs the image's command as the image says.
            entrypoint=[self.ctx.launcher] if self.ctx.user_image else None,
            user="0:0" if self.ctx.user_image else None,
            command=["--hold", self.ctx.launch_name] if self.ctx.user_image
            else [config.GUEST_LAUNCHER, "--hold", self.ctx.launch_name],
            name=self.ctx.name(self.platform), host_config=host_config, environment=server_env({}, self.network),
            ports=list(self._published() or {}),
            labels={config.RUN_LABEL: self.ctx.run_id, config.LABEL: "instance"})
        self.container_id = created["Id"]
        self.mark("created")
        # Attach before start, so not a byte of output is missed.
        stream = api.attach(self.container_id, stdout=True, stderr=True, stream=True, logs=True)
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()
        api.start(self.container_id)
        self.mark("started")
        if self._published():
            self.facts["network_carrier"] = port_carrier(self.network)
            self._keep_proxy_route()

    def _keep_proxy_route(self) -> None:
        """The 127.0.0.1 route is the userland proxy's only where the engine runs one; else the
        engine DNATs loopback too, a path already measured: it is left out, and said."""
        assert self.network is not None
        proxies = [r for r in self.network.more if r.path == PROXY]
        if all(r.port is not None and proxy_listening(r.port) for r in proxies):
            self.facts["network_proxy"] = "docker-proxy (the engine's userland proxy) serves the 127.0.0.1 binding"
            return
        self.network = replace(self.network, more=tuple(r for r in self.network.more if r.path != PROXY))
        self.facts["network_proxy"] = ("no docker-proxy for the 127.0.0.1 binding: the engine runs without its "
                                       "userland proxy (userland-proxy: false) and DNATs loopback too; only the "
                                       "DNAT path is measured")

    def _binds(self) -> list[str]:
        binds = [f"{self.volume}:{VOLUME_AT}:rw"] if self.volume else []
        if self.ctx.user_image is not None:  # the harness's directory, not a layer: the image stays as it is
            binds.append(f"{self.ctx.user_image.harness_dir}:{config.IMAGE_HARNESS_DIR}:ro")
        return binds

    def release_tree_probe(self) -> None:
        if self.container_id is not None:
            try:
                self.client.api.kill(self.container_id, "SIGUSR1")
            except engines.docker_failures() as e:
                raise BenchError(f"docker: asking for the tree probe: {engines.first_line(e)}") from None

    def _published(self) -> dict[int, list[tuple[str, int]]] | None:
        """A server workload's port, published as users run a service (`-p`): at the host's
        address on the bridge and at 127.0.0.1."""
        path, client = self.network, self.ctx.workload.client
        if path is None or client is None or path.instance_port is None:
            return None
        return {client.port: [(route.address, route.port or client.port) for route in path.routes]}

    def _read(self, stream: object) -> None:
        try:
            for chunk in stream:  # type: ignore[attr-defined]
                self.console.feed(chunk)
            self.console.close("container output ended")
        except Exception as e:  # the stream breaks when the container is removed under it
            self.console.close(f"container output broke off: {e}")

    def host_pids(self) -> list[int]:
        """The container's cgroup members and its containerd shim."""
        if self._procs_file is None:
            if self.container_id is None:
                return []
            try:
                pid = self.client.api.inspect_container(self.container_id)["State"]["Pid"]
            except engines.docker_failures():
                return []
            if not pid:
                return []
            self._init_pid = pid
            try:
                self._shim_pid = psutil.Process(pid).ppid()
            except psutil.Error:
                return []
            self._procs_file = processes.cgroup_procs_file(pid)
            if self._procs_file is None:
                return [self._shim_pid] + processes.tree(pid)
        return [self._shim_pid or 0] + processes.read_procs(self._procs_file)

    def main_pid(self) -> int | None:
        self.host_pids()
        return self._init_pid  # the container's PID 1, not the shim outside it

    def disk_growth(self) -> Footprint | None:
        if self.container_id is None:
            return None
        try:
            listed = self.client.api.containers(all=True, size=True, filters={"id": self.container_id})
        except engines.docker_failures():
            return None
        if not listed:
            return None
        layer = int(listed[0].get("SizeRw") or 0)
        if self.volume is None:
            return Footprint(layer, "docker SizeRw: the writable layer")
        try:
            mountpoint = Path(self.client.api.inspect_volume(self.volume)["Mountpoint"])
            return Footprint(layer + tree_allocated(mountpoint), "docker SizeRw + the volume's allocated bytes")
        except (*engines.docker_failures(), OSError):
            return None

    def teardown(self) -> None:
        api = self.client.api
        try:
            if self.container_id is not None:
                container_id = self.container_id
                self._remove(self.ctx.name(self.platform), lambda: api.remove_container(container_id, force=True))
            if self._reader is not None:
                self._reader.join(timeout=5)
        finally:
            if self.volume is not None:
                volume = self.volume
                self._remove(f"volume {volume}", lambda: api.remove_volume(volume, force=True))
                self.volume = None

    @staticmethod
    def _remove(what: str, remove: Callable[[], object]) -> None:
        try:
            remove()
        except docker.errors.NotFound:
            pass
        except engines.docker_failures() as e:
            raise BenchError(f"docker: removing {what}: {engines.first_line(e)}; "
                             "`bench clean` removes it later") from None


LOCALHOST = "127.0.0.1"
HOST_NETWORK = NetworkPath("127.0.0.1", "the host's network namespace (--network host): loopback, no bridge, no NAT",
                           instance_address="127.0.0.1", listen="127.0.0.1", kind=HOST)
BRIDGE_FIX = "restart dockerd, which makes the bridge again (a dockerd started with --bridge=none deletes it)"


def published(bridge: NetworkPath, port: int) -> NetworkPath:
    """The bridge path with the server's port published twice, as users publish a service: at a
    free port of the host's bridge address (reached through the engine's DNAT rule) and at one
    of 127.0.0.1 (where a client on the host connecting to localhost goes through the engine's
    userland proxy, docker-proxy, when the engine runs one)."""
    host_port, proxy_port = free_port(bridge.host_address), free_port(LOCALHOST)
    return replace(bridge, instance_address=bridge.host_address, instance_port=host_port, kind=DNAT,
                   more=(Route(PROXY, LOCALHOST, proxy_port),),
                   description=f"{bridge.description}; the server's port {port} published (-p) at "
                               f"{bridge.host_address}:{host_port} and {LOCALHOST}:{proxy_port}")


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def proxy_listening(port: int) -> bool:
    """Whether the engine's userland proxy serves 127.0.0.1:port (dockerd starts one docker-proxy
    per published binding; with `userland-proxy: false` it starts none and DNATs loopback too)."""
    for process in psutil.process_iter(["name", "cmdline"]):
        argv = process.info["cmdline"] or []
        if process.info["name"] == "docker-proxy" and str(port) in argv and LOCALHOST in argv:
            return True
    return False


def port_carrier(path: NetworkPath | None) -> str:
    """What carries a connection from the host to the published port: the engine's iptables
    DNAT rule (OUTPUT → DOCKER chain) where it made one, else its userland proxy."""
    if path is None or path.instance_port is None:
        return "none"
    try:
        rules = subprocess.run(["iptables", "-t", "nat", "-S", "DOCKER"], capture_output=True, text=True,
                               timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        rules = ""
    if any("DNAT" in rule and f"--dport {path.instance_port}" in rule for rule in rules.splitlines()):
        return "iptables DNAT (nat OUTPUT → DOCKER) to the container; dockerd's docker-proxy also listens"
    return "docker-proxy (the engine's userland proxy): no DNAT rule for the port"


def default_bridge(client: docker.DockerClient) -> NetworkPath:
    """The engine's default bridge network: the host is its gateway, on the bridge interface."""
    bridge, subnet, gateway = _bridge_config(client)
    if fault := bridge_fault(bridge, subnet):
        raise BenchError(f"docker: {fault}; {BRIDGE_FIX}")
    gateway = gateway or bridge_address(bridge, subnet)
    return NetworkPath(gateway, f"Docker's default bridge {bridge} ({subnet}): a veth pair; the host at {gateway}")


def _bridge_config(client: docker.DockerClient) -> tuple[str, str, str | None]:
    """The default bridge network's interface, subnet and IPAM gateway (None on the first start
    of an engine: docker.io 20.10 records none then, though the address is on the interface)."""
    try:
        attrs = client.api.inspect_network("bridge")
    except engines.docker_failures() as e:
        raise BenchError(f"docker: the default bridge network: {engines.first_line(e)}") from None
    ipam = (attrs.get("IPAM", {}).get("Config") or [{}])[0]
    bridge = (attrs.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    return bridge, ipam.get("Subnet", "?"), ipam.get("Gateway")


def bridge_fault(bridge: str, subnet: str) -> str | None:
    """Why a container on this bridge could not reach the host, or None: the host must hold an
    address of the subnet on the bridge interface (the gateway, which the host servers bind)."""
    if bridge_address(bridge, subnet) is not None:
        return None
    state = "does not exist" if bridge not in psutil.net_if_addrs() else f"has no address in {subnet}"
    return (f"the default bridge network ({subnet}) has no way to the host: its interface {bridge} {state}, "
            "so a container's network workload cannot reach the harness's servers")


def default_bridge_fault(client: docker.DockerClient) -> str | None:
    return bridge_fault(*_bridge_config(client)[:2])


def bridge_address(interface: str, subnet: str) -> str | None:
    """The host's IPv4 address on `interface` inside `subnet` (any of its IPv4 addresses when
    the subnet is unknown), or None."""
    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        network = None
    for address in psutil.net_if_addrs().get(interface, []):
        if address.family == socket.AF_INET and (network is None or ipaddress.ip_address(address.address) in network):
            return address.address
    return None


class ContainerDriver(Driver):
    name = "docker"

    def __init__(self, resources: Resources, platform: Platform = BY_NAME["docker"]) -> None:
        super().__init__(resources)
        self.client = engines.docker_client()
        self.platform = platform
        self.name = platform.name
        self._loaded: set[str] = set()  # users' images known to be in the engine
        info = engine_info(self.client)
        self.storage = self._storage(info, platform.volume)
        runtimes, default = engine_runtimes(info)
        check_runtimes(platform, runtimes)
        name = platform.runtime or default
        self.runtime = (f"{name} {engines.runtime_version(runtimes.get(name, name))}"
                        + ("" if platform.runtime else " (the engine's default)"))

    @staticmethod
    def _storage(info: dict, volume: bool) -> str:
        """Where this variant's writes land: file system and cache, for the disk workload."""
        root = Path(info.get("DockerRootDir", "/var/lib/docker"))
        if volume:
            return f"local volume at {VOLUME_AT}: {filesystem_of(root / 'volumes')}; the host's page cache (O_DIRECT bypasses it)"
        backing = dict(info.get("DriverStatus") or []).get("Backing Filesystem", "?")
        return (f"{info.get('Driver', '?')} copy-on-write layer on {backing} "
                f"({filesystem_of(root)}); the host's page cache (O_DIRECT bypasses it)")

    def prepare(self, ctx: TrialContext) -> Instance:
        if ctx.user_image is not None and ctx.user_image.id not in self._loaded:
            user_image.load_into_docker(self.client, ctx.user_image)
            self._loaded.add(ctx.user_image.id)
        return ContainerInstance(ctx, self.client, self.resources, self.platform, self.storage, self.runtime)

    def artifact_digest(self, ctx: TrialContext) -> str:
        return image_of(ctx, self.platform).sha256

    def image_for(self, ctx: TrialContext) -> str:
        return image_of(ctx, self.platform).sha256

    def _measure_image(self, ctx: TrialContext) -> Footprint:
        image = image_of(ctx, self.platform)
        try:
            size = self.client.api.inspect_image(image.sha256)["Size"]
        except engines.docker_failures() as e:
            raise BenchError(f"docker: {engines.first_line(e)}") from None
        kind = "application-only image" if self.platform.app_image else "image"
        return Footprint(int(size), f"docker image inspect: Size (the {kind})")
