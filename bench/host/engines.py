"""Connections to the Docker engine and to libvirt, with one-line errors when they are down."""

from __future__ import annotations

import subprocess

from typing import TYPE_CHECKING

from bench import config
from bench.errors import BenchError

if TYPE_CHECKING:
    import docker
    import libvirt


def docker_client(timeout: int = 120) -> docker.DockerClient:
    import docker

    try:
        client = docker.from_env(version="auto", timeout=timeout)
        client.ping()
        return client
    except docker_failures() as e:
        raise BenchError(f"docker: engine not reachable ({first_line(e)}); start dockerd "
                         "(`make run` does)") from None


def docker_failures() -> tuple[type[Exception], ...]:
    """What a Docker SDK call raises when the engine refuses it or is gone: the SDK's own errors,
    and those of its HTTP transport (a dead dockerd's socket refuses the connection)."""
    import docker
    import requests

    return (docker.errors.DockerException, requests.exceptions.RequestException)


def discard_libvirt_error(_ctx: object, _err: object) -> None:
    """libvirt's error callback: errors reach us as exceptions, so print nothing."""


# Python functions that C code calls back: an exception raised inside them cannot get out.
C_CALLBACK_CODES = (discard_libvirt_error.__code__,)


def libvirt_connection() -> libvirt.virConnect:
    import libvirt

    libvirt.registerErrorHandler(discard_libvirt_error, None)
    try:
        return libvirt.open(config.LIBVIRT_URI)
    except libvirt.libvirtError as e:
        raise BenchError(f"libvirt: cannot connect to {config.LIBVIRT_URI} ({first_line(e)}); "
                         "start virtlogd and libvirtd (`make run` does)") from None


def first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def image_id(client: docker.DockerClient, reference: str) -> str | None:
    """The id an image reference names in the engine now, or None."""
    import docker

    try:
        return str(client.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None


def runtime_version(path: str) -> str:
    """An OCI runtime's version: the first number in the first line of `PATH --version`."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    words = (out.strip().splitlines() or ["?"])[0].split()
    return next((w for w in words if w[:1].isdigit()), words[-1] if words else "?")
