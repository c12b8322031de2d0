"""The host side of a server workload: the client the harness runs against the server the
instance runs, once it answers its own protocol.

The client runs on the harness's CPUs (it inherits the harness's affinity, never the
instance's), is bounded twice (its own timeout here, coreutils `timeout` should the harness
die), and carries the owner variable host servers carry, so `bench clean` finds one a killed
run left. Each run's output is parsed into the workload's metrics, suffixed with the value.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench import config
from bench.definitions.workload import HostClient, Score, ScoreError, Workload
from bench.errors import BenchError
from bench.host import files
from bench.model.dimensions import PATH
from bench.net.servers import OWNER_ENV

READY_POLL_S = 0.2
OUTPUT_LINES = 5  # of a client's output, in a failure's reason


def missing_tools(workloads: list[Workload]) -> list[str]:
    """One line per program a workload's client needs and the host lacks, naming its package."""
    return [f"{w.name}: the client needs {tool} (Debian package {package}; `make setup` installs it)"
            for w in workloads if w.client is not None
            for tool, package in sorted(w.client.tools.items()) if shutil.which(tool) is None]


def require(workloads: list[Workload]) -> None:
    """Before any trial: every client tool on the host."""
    missing = missing_tools(workloads)
    if missing:
        raise BenchError(missing[0])


def tool_versions(workloads: list[Workload]) -> dict[str, str]:
    """Each client tool's own version line, for run.json; for a tool with no --version (dash,
    mawk), its Debian package's version."""
    tools = {t: package for w in workloads if w.client is not None for t, package in w.client.tools.items()}
    return {tool: _version(tool, tools[tool]) for tool in sorted(tools)}


def _version(tool: str, package: str) -> str:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=10)
        said = (out.stdout or out.stderr).strip().splitlines()
        if out.returncode == 0 and said:
            return said[0]
        listed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=10)
        return f"Debian package {package} {listed.stdout.strip()}" if listed.returncode == 0 else (said or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


@dataclass(frozen=True)
class ClientRun:
    value: int
    output: str
    seconds: float


def _run(argv: list[str], owner: str, timeout_s: float,
         started: Callable[[], None] = lambda: None) -> subprocess.CompletedProcess[str]:
    bounded = ["timeout", "--signal=KILL", str(int(timeout_s) + 5), *argv]
    with subprocess.Popen(bounded, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, OWNER_ENV: owner}, start_new_session=True) as proc:
        try:
            started()
            out, err = proc.communicate(timeout=timeout_s)
        except BaseException as e:  # a timeout or an interrupt: the client goes with the trial
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if isinstance(e, subprocess.TimeoutExpired):
                raise TimeoutError(f"client {argv[0]} did not finish within {timeout_s:g} s") from None
            raise
    return subprocess.CompletedProcess(bounded, proc.returncode, out, err)


def await_server(client: HostClient, address: str, port: int | None, owner: str, deadline: float,
                 alive: Callable[[], bool]) -> None:
    """Until the server answers `client.ready` (TimeoutError at the deadline; a BenchError when
    the instance ended first)."""
    argv = client.argv(client.ready, address, 0, port)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the server did not answer {' '.join(argv)} before the trial's timeout")
        try:
            done = _run(argv, owner, min(left, 10.0))
        except TimeoutError:  # this attempt got no answer; the deadline above decides (seen: 1 ms left)
            continue
        if done.returncode == 0 and client.ready_output in done.stdout:
            return
        if not alive():
            raise BenchError("the instance ended before its server answered")
        time.sleep(READY_POLL_S)


def run_client(client: HostClient, address: str, port: int | None, owner: str,
               started: Callable[[], None] = lambda: None, prepare: bool = True) -> list[ClientRun]:
    """`prepare` once (unless told it ran already, on another route to the same server), then
    the client once per value (`started` is called as each run begins); a run that fails is a
    ScoreError naming it and its output."""
    if client.prepare and prepare:
        _checked(client.argv(client.prepare, address, 0, port), owner, client.timeout_s, started)
    runs = []
    for value in client.values:
        scratch = files.temp_path(config.cache_dir() / f"client-{owner}")
        scratch.mkdir(parents=True)
        try:
            argv = client.argv(client.command, address, value, port, str(scratch))
            began = time.monotonic()
            done = _checked(argv, owner, client.timeout_s, started)
            runs.append(ClientRun(value, done.stdout, round(time.monotonic() - began, 6)))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return runs


def _checked(argv: list[str], owner: str, timeout_s: float, started: Callable[[], None]) -> subprocess.CompletedProcess[str]:
    done = _run(argv, owner, timeout_s, started)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[:OUTPUT_LINES]
        raise ScoreError(f"client {shlex.join(argv)[:120]} exited with code {done.returncode}: "
                         + (" | ".join(said) or "no output"))
    return done


@dataclass(frozen=True)
class ClientFigure:
    metric: str
    dimensions: dict[str, str]
    value: float
    score: Score


def figures(workload: Workload, runs: list[ClientRun], path: str = "") -> list[ClientFigure]:
    """Every run's figures, at the client's value and the network path it took; output that
    does not parse names the metric and its first lines."""
    assert workload.client is not None
    found = []
    for run in runs:
        dimensions = {**workload.client.dimensions(run.value), **({PATH: path} if path else {})}
        for metric, score in workload.metrics.items():
            try:
                found.append(ClientFigure(metric, dimensions, float(score.extract(run.output)), score))
            except ScoreError as e:
                head = " | ".join(run.output.strip().splitlines()[:OUTPUT_LINES]) or "no output"
                at = "".join(f" at {k}={v}" for k, v in dimensions.items())
                raise ScoreError(f"{metric}{at}: {e} (client output: {head})") from None
    return found
