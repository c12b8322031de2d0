"""`bench clean`: remove what a crashed run left, found by the harness's label and name prefix.

Idempotent: a second call finds nothing. Images and the build cache are not leftovers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import docker
import libvirt

from bench import cgroup, config, engines
from bench.errors import BenchError
from bench.images.store import TMP_PREFIX, temp_owner


def leftover_containers(client: docker.DockerClient) -> list:
    return client.containers.list(all=True, filters={"label": config.RUN_LABEL})


def leftover_volumes(client: docker.DockerClient) -> list:
    return client.volumes.list(filters={"label": config.RUN_LABEL})


def leftover_domains(conn: libvirt.virConnect) -> list[libvirt.virDomain]:
    return [d for d in conn.listAllDomains() if d.name().startswith(config.NAME_PREFIX)]


def leftover_networks(conn: libvirt.virConnect) -> list[libvirt.virNetwork]:
    return [n for n in conn.listAllNetworks() if n.name().startswith(config.NAME_PREFIX)]


def leftover_files() -> list[Path]:
    """Instance overlays, and build temp directories whose builder process is gone."""
    cache = config.cache_dir()
    found = sorted((cache / "instances").glob(f"{config.NAME_PREFIX}*"))
    for tmp in sorted(cache.glob(f"*/{TMP_PREFIX}*")):
        pid = temp_owner(tmp)
        if pid is None or not _alive(pid):
            found.append(tmp)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftovers() -> list[str]:
    """Everything a crashed run may have left, one description each (engines that are down
    are skipped: they cannot hold anything that would disturb a run)."""
    found: list[str] = []
    try:
        client = engines.docker_client(timeout=30)
        found += [f"container {c.name}" for c in leftover_containers(client)]
        found += [f"volume {v.name}" for v in leftover_volumes(client)]
    except BenchError:
        pass
    try:
        conn = engines.libvirt_connection()
        found += [f"domain {d.name()}" for d in leftover_domains(conn)]
        found += [f"libvirt network {n.name()}" for n in leftover_networks(conn)]
    except BenchError:
        pass
    found += [f"file {p}" for p in leftover_files()]
    found += [f"cgroup {p}" for p in cgroup.leftovers()]
    return found


def clean_all() -> list[str]:
    """What was removed (or could not be looked at), one line each."""
    report: list[str] = []
    try:
        client = engines.docker_client(timeout=30)
    except BenchError as e:
        report.append(f"skipped containers: {e}")
    else:
        for container in leftover_containers(client):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                continue  # removed meanwhile
            report.append(f"removed container {container.name}")
        for volume in leftover_volumes(client):
            try:
                volume.remove(force=True)
            except docker.errors.NotFound:
                continue
            report.append(f"removed volume {volume.name}")
    try:
        conn = engines.libvirt_connection()
    except BenchError as e:
        report.append(f"skipped domains: {e}")
    else:
        report += _remove_libvirt(leftover_domains(conn), "domain")
        # After the domains that were attached to it.
        report += _remove_libvirt(leftover_networks(conn), "libvirt network")
    for group in cgroup.leftovers():
        leftover = cgroup.MemoryCgroup(group)
        leftover.kill_members()
        leftover.remove()
        report.append(f"removed cgroup {group}")
    for path in leftover_files():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        report.append(f"removed file {path}")
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
