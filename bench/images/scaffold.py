"""`bench workload init NAME --image REF`: a workload file (and a suite naming it) from a user's
image's config, for the user to edit. The command is the image's own; an exposed TCP port makes it
a server workload with a [client] skeleton (wrk over HTTP, the commonest case), anything else a
workload measured by what the host sees (boot, memory, CPU, disk) until a [score] is added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.definitions.workload import NAME_RE, parse_workload
from bench.errors import BenchError
from bench.host import engines, files
from bench.images import oci, user_image
from bench.model import registry

# The platforms a user's image runs on, as the suite written beside the workload names them.
SUITE_PLATFORMS = tuple(p.name for p in registry.REGISTERED
                        if not p.no_user_image and not (p.volume or p.host_network))


@dataclass(frozen=True)
class Scaffold:
    workload: Path
    suite: Path


def image_config(image: str | None, archive: Path | None) -> tuple[oci.ImageConfig, int, int]:
    """The image's config, its size and its layer count, from the local engine or an archive."""
    if archive is not None:
        read = oci.read(archive)
        return read.config, read.layer_bytes(), len(read.layers)
    found = user_image.local_image(engines.docker_client(), str(image))
    raw = json.dumps({"architecture": found.attrs.get("Architecture", ""), "config": found.attrs.get("Config")})
    config = oci.ImageConfig.parse(raw.encode(), f"image {image}")
    return config, int(found.attrs.get("Size") or 0), len(found.attrs.get("RootFS", {}).get("Layers") or [])


def _toml(value: object) -> str:
    return json.dumps(value)  # a JSON string or list of strings is a TOML one


def workload_text(name: str, image: str | None, archive: Path | None, config: oci.ImageConfig, size: int,
                  layers: int) -> str:
    source = f"image = {_toml(image)}" if image else f"image_archive = {_toml(str(archive))}"
    shown = " ".join(config.argv) or "(none: give a command)"
    port = next((int(p.split("/")[0]) for p in config.exposed_ports if p.endswith("/tcp")), None)
    lines = [
        f"name = {_toml(name)}",
        f"description = {_toml(f'{image or archive} ({shown}): edit to say what it measures')}",
        f"# Made by `bench workload init` from the image's config ({layers} layer(s), {size / 2**20:.1f} MiB): edit it.",
        "# Nothing is pulled; the image runs byte-identical on every platform (its Env, User and",
        "# WorkingDir as its config says), from the image itself on the container engines.",
        source,
        f"# Without `command` the image's Entrypoint + Cmd run: {_toml(list(config.argv))}",
    ]
    if not config.argv:
        lines.append('command = ["/path/to/program"]  # the image has no Entrypoint or Cmd: say what to run')
    lines += ["timeout_s = 300", "expected_s = 10  # how long one run takes, for plans and estimates", ""]
    if port is None:
        lines += ["# No [score] yet: each trial measures what the host sees (start time, memory, CPU, disk).",
                  "# Add one read from the command's output, e.g.:",
                  "# [score]", "# regex = 'requests per second:\\s*([0-9.]+)'", '# unit = "req/s"',
                  '# better = "higher"']
        return "\n".join(lines) + "\n"
    lines += [
        f"# The image exposes {port}/tcp: a server, driven from the host by the [client] below. Its",
        "# server must listen on $BENCH_LISTEN (or every address). The skeleton assumes HTTP; give",
        "# your own tool (its Debian package in tools) and metrics for another protocol.",
        "network = true", "", "[client]", 'tools = { "wrk" = "wrk", "curl" = "curl" }', f"port = {port}",
        'ready = ["curl", "-fsS", "-o", "/dev/null", "http://{address}:{port}/"]',
        'command = ["wrk", "--latency", "-t", "1", "-c", "{value}", "-d", "5s", "http://{address}:{port}/"]',
        "values = [1, 25]", 'parameter = "connections"', "",
        "[metrics.req_s]", "regex = 'Requests/sec:\\s+([0-9.]+)'", 'unit = "req/s"', 'better = "higher"', "",
        "[metrics.p99_ms]", "regex = '\\s+99%\\s+([0-9.]+)(us|ms|s)'", "units = { us = 0.001, ms = 1.0, s = 1000.0 }",
        'unit = "ms"', 'better = "lower"']
    return "\n".join(lines) + "\n"


def suite_text(name: str) -> str:
    return "\n".join([
        "# Your image on every platform that runs a user's image (vm-os, vm-docker and docker-app do not:",
        "# see the README's Platforms), as `bench workload init` printed how to run it.",
        f"name = {_toml(name)}", f"platforms = {_toml(list(SUITE_PLATFORMS))}", f"workloads = {_toml([name])}",
        "repetitions = 3", "warmup = 1", "", "[precision]", "max_repetitions = 5", ""])


def init(name: str, root: Path, image: str | None, archive: Path | None, force: bool = False) -> Scaffold:
    if not NAME_RE.match(name):
        raise BenchError(f"workload init: {name!r} is not a valid name (lower case letters, digits, - and _)")
    if (image is None) == (archive is None):
        raise BenchError("workload init: give --image REF or --image-archive PATH")
    directory = root / name
    workload, suite = directory / "workload.toml", directory / "suite.toml"
    if workload.exists() and not force:
        raise BenchError(f"workload init: {workload} exists (--force replaces it)")
    config, size, layers = image_config(image, archive.resolve() if archive else None)
    text = workload_text(name, image, archive.resolve() if archive else None, config, size, layers)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BenchError(f"workload init: cannot create {directory}: {e.strerror}") from None
    files.write_text(workload, text)
    try:
        parse_workload(workload, expected_name=name)  # what it wrote must load
    except BenchError:
        workload.unlink()
        raise
    files.write_text(suite, suite_text(name))
    return Scaffold(workload, suite)
