"""`bench clean`: remove what a crashed run left, found by the harness's label and name prefix.

Idempotent: a second call finds nothing. Images and the build cache are not leftovers.
"""

from __future__ import annotations

import shutil
from typing import Any
from pathlib import Path

import docker
import libvirt

from bench import config
from bench.errors import BenchError
from bench.guest import qemu
from bench.host import cgroup, engines, leases
from bench.host.files import TMP_PREFIX, temp_owner
from bench.host.proc import alive
from bench.images import engine_disk
from bench.net import podman_network, servers, tap
from bench.operations import tune
from bench.platforms import lxc, podman
from bench.platforms.vmboot import instances_dir


def leftover_containers(client: docker.DockerClient) -> list:
    # ignore_removed: a trial that ends between the list and its inspect is no leftover (and no error).
    return client.containers.list(all=True, filters={"label": config.RUN_LABEL}, ignore_removed=True)


def leftover_volumes(client: docker.DockerClient) -> list:
    return client.volumes.list(filters={"label": config.RUN_LABEL})


def leftover_domains(conn: libvirt.virConnect) -> list[libvirt.virDomain]:
    return [d for d in conn.listAllDomains() if d.name().startswith(config.NAME_PREFIX)]


def leftover_networks(conn: libvirt.virConnect) -> list[libvirt.virNetwork]:
    return [n for n in conn.listAllNetworks() if n.name().startswith(config.NAME_PREFIX)]


def leftover_files() -> list[Path]:
    """Instance overlays, and build temp directories whose builder process is gone."""
    cache = config.cache_dir()
    containers = set(lxc.leftover_containers())  # LXC's instance directories: stopped first, as containers
    found = sorted(p for p in (cache / "instances").glob(f"{config.NAME_PREFIX}*") if p.name not in containers)
    # Build and work directories in the cache (at its top or one level down), and the short socket
    # directory of vm-docker's preloading dockerd.
    for tmp in sorted([*cache.glob(f"{TMP_PREFIX}*"), *cache.glob(f"*/{TMP_PREFIX}*"),
                       *Path("/run").glob(f"{TMP_PREFIX}*")]):
        pid = temp_owner(tmp)
        if pid is None or not alive(pid):
            found.append(tmp)
    return found


def leftovers(require_engines: bool = True) -> list[str]:
    """Everything a crashed run may have left, one description each. A live run's instances are
    not leftovers. An engine that cannot be reached is a BenchError: "nothing found" there would
    prove nothing. `require_engines=False` (a run deciding whether it may start) skips it instead."""
    found, unreachable = _found(leases.live_runs())
    if unreachable and require_engines:
        raise BenchError(f"cannot look for leftovers: {'; '.join(unreachable)}")
    return [f"{kind} {name}" for kind, name, _ in found]


def _found(live: list[leases.LiveRun]) -> tuple[list[tuple[str, str, Any]], list[str]]:
    """(kind, name, handle) of each leftover no live run owns; each engine that could not be
    looked at, with why."""
    found: list[tuple[str, str, Any]] = []
    unreachable: list[str] = []
    try:
        client = engines.docker_client(timeout=30)
        found += [("container", c.name, c) for c in leftover_containers(client)]
        found += [("volume", v.name, v) for v in leftover_volumes(client)]
    except (BenchError, *engines.docker_failures()) as e:
        unreachable.append(f"containers and volumes not looked at: {engines.first_line(e)}")
    try:
        conn = engines.libvirt_connection()
        found += [("domain", d.name(), d) for d in leftover_domains(conn)]
        found += [("libvirt network", n.name(), n) for n in leftover_networks(conn)]
    except (BenchError, libvirt.libvirtError) as e:
        unreachable.append(f"domains and networks not looked at: {engines.first_line(e)}")
    found += [("podman container", name, name) for name in podman.leftover_containers()]
    found += [("podman network", name, name) for name in podman_network.leftover_networks()]
    found += [("lxc container", name, name) for name in lxc.leftover_containers()]
    found += [("host server", name, pids) for name, pids in servers.leftovers().items()]
    found += [("qemu process", name, [pid]) for name, pid in
              qemu.leftover_processes(instances_dir(), config.NAME_PREFIX).items()]
    found += [("tap device", name, device) for name, device in tap.leftovers().items()]
    found += [("file", str(p), p) for p in leftover_files()]
    found += [("cgroup", str(p), p) for p in cgroup.leftovers()]
    if (state := tune.crashed()) is not None:
        found.append(("tuned host", f"by run pid {state.pid} at {state.saved_at}", state))
    return [(kind, name, handle) for kind, name, handle in found
            if leases.owner(Path(name).name, live) is None], unreachable


def in_progress() -> list[str]:
    """One line for each live run: the host is busy while there is one."""
    return [f"run {run.run_id} (pid {run.pid})" for run in leases.live_runs()]


def clean_all() -> tuple[list[str], list[str]]:
    """What was removed (or spared, or could not be removed), one line each; and each engine
    that could not be looked at, which the caller must treat as a failure."""
    live = leases.live_runs()
    found, unreachable = _found(live)
    report: list[str] = []
    report += [f"spared run {run.run_id} (pid {run.pid}): it is still running" for run in live]
    report += _remove_docker([(kind, h) for kind, _, h in found if kind in ("container", "volume")])
    # Networks after the containers attached to them.
    for kind, remove in (("podman container", podman.remove), ("podman network", podman_network.remove),
                         ("lxc container", lxc.remove), ("host server", servers.kill),
                         ("qemu process", servers.kill), ("tap device", tap.remove)):
        for name, handle in ((n, h) for k, n, h in found if k == kind):
            try:
                remove(handle)
            except BenchError as e:
                report.append(f"could not remove {kind} {name}: {e}")
                continue
            report.append(f"removed {kind} {name}")
    report += _remove_libvirt([h for kind, _, h in found if kind == "domain"], "domain")
    # After the domains that were attached to it.
    report += _remove_libvirt([h for kind, _, h in found if kind == "libvirt network"], "libvirt network")
    for name, state in ((n, h) for kind, n, h in found if kind == "tuned host"):
        try:
            restored = tune.reset(state)
        except BenchError as e:
            report.append(f"could not remove tuned host {name}: {e}")
            continue
        report.append(f"removed tuned host {name}: its prior state restored ({len(restored)} setting(s))")
    for group in (h for kind, _, h in found if kind == "cgroup"):
        if cgroup.remove_everywhere(group.name):  # not if it went with its LXC container
            report.append(f"removed cgroup {group}")
    for path in (h for kind, _, h in found if kind == "file"):
        if path.is_dir():
            engine_disk.reap(path)
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        report.append(f"could not remove file {path}" if path.exists() else f"removed file {path}")
    return report, unreachable


def _remove_docker(found: list[tuple[str, Any]]) -> list[str]:
    """Containers, then volumes (a volume in use cannot go); one line for each one removed."""
    report = []
    for kind, thing in found:
        try:
            thing.remove(force=True)
        except docker.errors.NotFound:
            continue  # removed meanwhile
        except engines.docker_failures() as e:
            report.append(f"could not remove {kind} {thing.name}: {engines.first_line(e)}")
            continue
        report.append(f"removed {kind} {thing.name}")
    return report


def _remove_libvirt(found: list, kind: str) -> list[str]:
    """Destroy (and undefine) libvirt domains or networks; one line for each one removed."""
    report = []
    for thing in found:
        try:
            name, persistent = thing.name(), thing.isPersistent()
            if thing.isActive():
                thing.destroy()  # a transient one is gone after this
            if persistent:
                thing.undefine()
        except libvirt.libvirtError:
            continue  # a transient one that ended meanwhile
        report.append(f"removed {kind} {name}")
    return report
