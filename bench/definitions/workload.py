"""Workload definitions: `workloads/<name>/workload.toml`, data rather than code.

A workload names the Debian packages it needs (baked into the one root filesystem), the
command the guest launcher runs, and how the host reads a score from the command's output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench import config
from bench.definitions.kinds import KINDS, WorkloadKind
from bench.definitions.tomlcheck import Table, load_toml
from bench.errors import BenchError
from bench.guest.spec import LauncherSpec
from bench.model.sample import Better

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters.
DEBIAN_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
# interference: a victim workload measured alone and beside a neighbour running each stress;
# stress: a bounded misbehaviour for such a neighbour, never measured on its own;
# exposure: the exposure probe, run as root, its output read by the harness's own parser.
ADDRESS_FIELD = "{address}"
METRIC_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DIMENSION_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}$")  # a figure's dimension: clients, stress
# Metrics the harness itself records; a workload's own figures must not take their names.
HARNESS_METRICS = {"score", "boot_s", "teardown_s", "image_mib", "instance_disk_mib", "vmm_overhead_mib",
                   "host_cpu_s", "workload_s", "server_ready_s", "userspace_sha256"}
HARNESS_PREFIXES = ("mem_", "boot_phase", "density_")


class ScoreError(Exception):
    """The workload ran but its output holds no score: the trial failed, the run goes on."""


@dataclass(frozen=True)
class Score:
    unit: str
    # "equal": not a quantity but a value every platform must reproduce (e.g. a digest).
    better: Better
    regex: str | None = None
    json_field: str | None = None  # dotted: jobs.0.read.iops
    json_path: tuple[str, ...] | None = None  # the same as a list, for keys with dots in them
    scale: float = 1.0  # multiplies the value read: 0.001 turns ns into µs
    # A tool that prints its own unit beside each value (wrk: 812.00us, 1.20ms): the regex's
    # second group captures it, and this maps each unit it may print to the factor into `unit`.
    units: tuple[tuple[str, float], ...] = ()

    def extract(self, output: str) -> float | str:
        raw, printed = self._raw(output)
        if self.better == "equal":
            return str(raw)
        factor = self.scale
        if self.units:
            known = dict(self.units)
            if printed not in known:
                raise ScoreError(f"value {raw}{printed} is in a unit {printed!r} not among {', '.join(known)}")
            factor *= known[printed]
        try:
            value = float(raw)  # type: ignore[arg-type]
            # 12 significant digits: 693us reads as 0.693 ms, not 0.6930000000000001.
            return value if factor == 1 else float(f"{value * factor:.12g}")
        except (TypeError, ValueError):
            raise ScoreError(f"score {raw!r} is not a number") from None

    def _raw(self, output: str) -> tuple[object, str]:
        """The value read, and the unit printed beside it (with `units`)."""
        if self.regex is not None:
            match = re.search(self.regex, output, re.MULTILINE)
            if not match:
                raise ScoreError(f"no match for /{self.regex}/ in the output")
            return match.group(1), (match.group(2) if self.units else "")
        path = self.json_path if self.json_path is not None else tuple((self.json_field or "").split("."))
        value = _json_document(output)
        for part in path:
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                raise ScoreError(f"no field {'/'.join(path)!r} in the JSON output")
        return value, ""


def _json_document(output: str) -> object:
    """The output as JSON; or the first JSON object in it, when a tool printed warnings on
    stderr around its JSON (the launcher captures both streams)."""
    try:
        return json.loads(output)
    except json.JSONDecodeError as e:
        problem = e
    start = output.find("\n{") + 1 if not output.startswith("{") else 0
    if start > 0 or output.startswith("{"):
        try:
            return json.JSONDecoder().raw_decode(output[start:])[0]
        except json.JSONDecodeError as e:
            problem = e
    raise ScoreError(f"output is not JSON: {problem}")


@dataclass(frozen=True)
class HostServer:
    """A server the harness runs on the host for a network workload's instance to talk to.
    `command` holds `{address}`: the host's address on that instance's network path, the only
    address it listens on."""

    name: str
    command: tuple[str, ...]
    port: int

    def argv(self, address: str) -> list[str]:
        return [part.replace(ADDRESS_FIELD, address) for part in self.command]


PORT_FIELD, VALUE_FIELD, SCRATCH_FIELD = "{port}", "{value}", "{scratch}"
# In a command: the workload's measured duration, `seconds` unless the suite sets its own. The
# launcher fills it in at run time (from NAME@SECONDS), so one image serves both.
SECONDS_FIELD = "{seconds}"
SETTLED_METRIC = "mem_pss_settled_mib"
USERSPACE_METRIC = "userspace_sha256"  # the tree probe's hash of an instance's user space
# Beside a score every platform must reproduce (hello's digest): the digest of the artifact the
# instance ran from, so a history of several hosts shows which ran identical artifacts.
ARTIFACT_METRIC = "artifact_sha256"
# The environment a workload of the Debian image runs with: nothing inherited from the platform.
DEBIAN_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/tmp")


@dataclass(frozen=True)
class HostClient:
    """For a server workload: the client the harness runs on the host against the server the
    instance runs. `ready` is run until it succeeds (and prints `ready_output`, when given): the
    server answers its own protocol. `command` then runs once per value of `values`, each run's
    figures carrying the dimension `<parameter>=<value>` (clients=10); `prepare`, when given, runs
    once before them (a benchmark's data set). Fields: {address} (where the host reaches the
    instance), {port}, {value}, {scratch} (a directory of the harness's for the one run, removed
    after it)."""

    tools: dict[str, str]  # each program it runs → the Debian package that has it
    port: int
    ready: tuple[str, ...]
    command: tuple[str, ...]
    ready_output: str = ""
    values: tuple[int, ...] = (0,)
    timeout_s: float = 60.0  # one client run
    prepare: tuple[str, ...] = ()
    parameter: str = ""  # what `values` count, the figures' dimension: clients, connections ("": one run, none)

    def argv(self, command: tuple[str, ...], address: str, value: int, port: int | None = None,
             scratch: str = "") -> list[str]:
        return [part.replace(ADDRESS_FIELD, address).replace(PORT_FIELD, str(port or self.port))
                .replace(VALUE_FIELD, str(value)).replace(SCRATCH_FIELD, scratch) for part in command]

    def dimensions(self, value: int) -> dict[str, str]:
        """A client run's figures' dimensions: clients=10 for the run at 10 clients."""
        return {self.parameter: str(value)} if self.parameter else {}


@dataclass(frozen=True)
class Settle:
    """A wait whose figure is the host memory the instance holds: under a suite's [precision]
    it ends once the last `readings` PSS readings after READY lie within `tolerance` (a
    fraction of their mean) of each other, and at the command's end (its {seconds}) at the
    latest. Its figure, mem_pss_settled_mib, is those readings' mean either way."""

    readings: int = 3
    tolerance: float = 0.01

    def steady(self, pss: list[float]) -> float | None:
        """The settled figure of these PSS readings (in order), or None while they still move."""
        last = pss[-self.readings:]
        if len(last) < self.readings:
            return None
        mean = sum(last) / len(last)
        return mean if mean > 0 and max(last) - min(last) <= self.tolerance * mean else None


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    packages: tuple[str, ...]
    command: tuple[str, ...]
    score: Score | None  # None: the workload measures only what the host sees (boot, idle)
    timeout_s: float
    source: Path
    expected_s: float = 0.0  # how long the command itself runs, for plans and estimates
    metrics: dict[str, Score] = field(default_factory=dict)  # more figures read from the output
    kind: str = "single"  # "density": the trial keeps a suite-given number of instances running
    # The instance gets a network path to the host (loopback, a bridge) and the harness runs
    # `servers` on the host for it; its command finds the host's address in $BENCH_SERVER.
    network: bool = False
    servers: tuple[HostServer, ...] = ()
    client: HostClient | None = None  # a server workload: its figures come from this host-side client
    # What the application-only image holds besides the programs the command runs and their
    # libraries: absolute paths of files or whole directories (a server's data files, modules).
    app_paths: tuple[str, ...] = ()
    victim: str = ""  # an interference workload's: the workload whose figures a neighbour may take
    stresses: tuple[str, ...] = ()  # an interference workload's: the stress workloads, one at a time
    seconds: int | None = None  # the measured duration its command's {seconds} stands for
    settle: Settle | None = None
    # A user's image as the user space instead of the Debian rootfs: a reference in the local
    # Docker engine, or an archive (docker save, OCI layout). `command` empty: the image's own.
    image: str = ""
    image_archive: Path | None = None

    @property
    def user_image(self) -> bool:
        return bool(self.image) or self.image_archive is not None

    @property
    def image_source(self) -> str:
        """The user's image as the workload names it."""
        return self.image or str(self.image_archive or "")

    def launcher_spec(self) -> LauncherSpec:
        """How the static launcher runs this workload from the Debian image: its command as the
        unprivileged bench user (the exposure probe as root), in /tmp, with a clean environment;
        each {seconds} filled in at run time (the suite's, else this workload's own)."""
        return LauncherSpec(config.GUEST_UID, config.GUEST_UID, "/tmp", DEBIAN_ENV, self.command, self.seconds,
                            self.as_root)

    def expected_for(self, seconds: int | None) -> float:
        """expected_s with the measured duration `seconds` in place of its own (None: its own)."""
        if seconds is None or self.seconds is None:
            return self.expected_s
        return self.expected_s * seconds / self.seconds

    @property
    def baked(self) -> bool:
        """Whether the Debian image holds a command of this workload (an interference one runs
        others'; a user's image is built apart)."""
        return not self.kind_traits.composite and not self.user_image

    @property
    def as_root(self) -> bool:
        """The launcher runs every other workload as the unprivileged bench user."""
        return self.kind_traits.as_root

    @property
    def kind_traits(self) -> WorkloadKind:
        return KINDS[self.kind]

    @property
    def headline_metric(self) -> str:
        """The figure this workload exists for: its kind's, else its score, else its first own
        metric, else boot_s."""
        if self.kind_traits.headline:
            return self.kind_traits.headline
        if self.settle is not None:
            return SETTLED_METRIC
        if self.score is not None and self.score.better != "equal":
            return "score"
        return next(iter(self.metrics), "boot_s")

    @property
    def headline_dimensions(self) -> dict[str, str]:
        """The headline metric's dimensions: a server workload's at its client's first value."""
        return self.client.dimensions(self.client.values[0]) if self.client and self.metrics else {}

    def guest_spec(self) -> dict[str, object]:
        """What of this workload is baked into the image; a change here means a rebuild."""
        spec: dict[str, object] = {"name": self.name, "packages": sorted(self.packages), "command": list(self.command)}
        if self.app_paths:  # only then: the other workloads' images keep their cache keys
            spec["app_paths"] = list(self.app_paths)
        if self.as_root:
            spec["as_root"] = True
        if self.seconds is not None:
            spec["seconds"] = self.seconds
        if self.user_image:
            spec["image"] = self.image_source
        return spec


def parse_workload(path: Path, expected_name: str | None = None) -> Workload:
    top = Table(load_toml(path), path)
    name = top.text("name")
    if not NAME_RE.match(name):
        raise top.error("name", f"{name!r} is not a valid name (lower case letters, digits, - and _)")
    if expected_name is not None and name != expected_name:
        raise top.error("name", f"is {name!r} but the directory is {expected_name!r}")
    description = top.text("description")
    if (declared := KINDS.get(str(top.data.get("kind", "")))) is not None and declared.composite:
        return _parse_interference(top, name, description, path)
    image, image_archive = _parse_image(top, path)
    packages = top.text_list("packages", default=[])
    for package in packages:
        if not DEBIAN_PACKAGE_RE.match(package):
            raise top.error("packages", f"{package!r} is not a Debian package name")
    if packages and (image or image_archive):
        raise top.error("packages", "a workload from a user's image runs that image's user space: no Debian packages")
    command = (top.text_list("command", default=[]) if image or image_archive
               else top.text_list("command", non_empty=True))
    timeout_s = top.number("timeout_s", positive=True)
    expected_s = top.number("expected_s", positive=True)
    if expected_s >= timeout_s:
        raise top.error("expected_s", f"{expected_s:g} s leaves no room before timeout_s ({timeout_s:g} s)")
    score = _parse_score(top.table("score")) if "score" in top.data else None
    metrics = {}
    extra = top.table("metrics", optional=True)
    for metric in list(extra.data):
        if not METRIC_RE.match(metric) or metric in HARNESS_METRICS or metric.startswith(HARNESS_PREFIXES):
            raise extra.error(metric, "not a free metric name (lower case, digits, _; not one the harness "
                              "measures itself)")
        metrics[metric] = _parse_score(extra.table(metric))
        if metrics[metric].better == "equal":
            raise extra.error(f"{metric}.better", "must be higher or lower (only [score] may be 'equal')")
    extra.finish()
    kind = top.text("kind", default="single", choices=tuple(KINDS))
    traits = KINDS[kind]
    if not traits.own_figures and (score is not None or metrics):
        raise top.error("kind", f"a {kind} workload is measured by the harness's own probes: no [score] or [metrics]")
    network = top.boolean("network", default=False)
    if network and not traits.network:
        raise top.error("network", f"only a single-instance or stress workload can have a network, not kind {kind!r}")
    servers = _parse_servers(top.table("servers", optional=True))
    if servers and not network:
        raise top.error("servers", "host servers need `network = true`: without it the instance cannot reach them")
    client = _parse_client(top.table("client"), metrics) if "client" in top.data else None
    if client is not None and (not network or score is not None or not metrics):
        raise top.error("client", "a server workload needs `network = true`, [metrics] read from the client's "
                        "output, and no [score]")
    seconds = top.integer("seconds", default=None, minimum=1)
    if (seconds is not None) != any(SECONDS_FIELD in part for part in command):
        raise top.error("seconds", f"is the measured duration the command's {SECONDS_FIELD} stands for: give "
                        "both or neither")
    settle = _parse_settle(top.table("settle"), seconds) if "settle" in top.data else None
    app_paths = top.text_list("app_paths", default=[])
    relative = [p for p in app_paths if not p.startswith("/") or ".." in p.split("/")]
    if relative:
        raise top.error("app_paths", f"{relative[0]!r} is not an absolute path inside the image")
    if (image or image_archive) and (app_paths or not traits.user_image):
        raise top.error("image", "a workload from a user's image is a single-instance one (kind = \"single\"), "
                        "without app_paths (the image is already the application's)")
    top.finish()
    return Workload(name, description, tuple(packages), tuple(command), score, float(timeout_s), path,
                    float(expected_s), metrics, kind, network, servers, client, tuple(app_paths), seconds=seconds,
                    settle=settle, image=image, image_archive=image_archive)


IMAGE_REF_RE = re.compile(r"^[a-z0-9][A-Za-z0-9._/:@-]{0,254}$")  # a tag may hold capitals


def _parse_image(top: Table, path: Path) -> tuple[str, Path | None]:
    """`image` (a reference in the local Docker engine) or `image_archive` (a path, relative to
    the workload's directory): at most one of them."""
    image = top.text("image", default="")
    archive = top.text("image_archive", default="")
    if image and archive:
        raise top.error("image", "give image or image_archive, not both")
    if image and not IMAGE_REF_RE.match(image):
        raise top.error("image", f"{image!r} is not an image reference (name:tag or sha256:ID)")
    return image, (path.parent / archive).resolve() if archive else None


def _parse_interference(top: Table, name: str, description: str, path: Path) -> Workload:
    """`victim` (a single workload) and `stresses` (stress workloads), named; the runner loads them."""
    top.text("kind")
    victim = top.text("victim")
    stresses = top.text_list("stresses", non_empty=True)
    for named in (victim, *stresses):
        if not NAME_RE.match(named) or named == name:
            raise top.error("stresses" if named != victim else "victim", f"{named!r} is not another workload's name")
    if len(set(stresses)) != len(stresses):
        raise top.error("stresses", "names a stress twice")
    timeout_s = top.number("timeout_s", positive=True)  # one victim trial beside one stress
    top.finish()
    return Workload(name, description, (), (), None, float(timeout_s), path, kind="interference",
                    victim=victim, stresses=tuple(stresses))


def _parse_client(table: Table, metrics: dict[str, Score]) -> HostClient:
    tools = table.table("tools")
    named = {tool: tools.text(tool) for tool in list(tools.data)}
    tools.finish()
    if not named or not all(DEBIAN_PACKAGE_RE.match(p) for p in named.values()):
        raise table.error("tools", "must map each program the client runs to its Debian package")
    port = table.integer("port", minimum=1)
    if port > 65535:
        raise table.error("port", f"{port} is not a TCP port")
    ready, command = table.text_list("ready", non_empty=True), table.text_list("command", non_empty=True)
    prepare = table.text_list("prepare", non_empty=True) if "prepare" in table.data else []
    for key, argv in (("ready", ready), ("command", command), ("prepare", prepare)):
        if not argv:
            continue
        if argv[0] not in named:
            raise table.error(key, f"runs {argv[0]!r}, which [client.tools] does not name")
        if not any(ADDRESS_FIELD in part for part in argv):
            raise table.error(key, f"must connect to {ADDRESS_FIELD} (where the host reaches the instance)")
    values = table.integer_list("values", default=[0])
    # How figures were told apart before they carried dimensions (get_ops_s_c10); read, not needed.
    legacy_suffix = table.text("suffix", default="")
    parameter = table.text("parameter", default="value" if legacy_suffix else "")
    if parameter and not DIMENSION_RE.match(parameter):
        raise table.error("parameter", f"{parameter!r} is not a dimension's name (lower case letters, digits, '_')")
    if len(values) > 1 and not parameter:
        raise table.error("parameter", "several values need a parameter (what they count: clients, connections) "
                                       "to keep their figures apart")
    ready_output = table.text("ready_output", default="")
    timeout_s = table.number("timeout_s", default=60.0, positive=True)
    table.finish()
    return HostClient(named, port, tuple(ready), tuple(command), ready_output, tuple(values), float(timeout_s),
                      tuple(prepare), parameter)


def _parse_servers(table: Table) -> tuple[HostServer, ...]:
    servers = []
    for name in list(table.data):
        if not METRIC_RE.match(name):
            raise table.error(name, "not a valid server name (lower case letters, digits, _)")
        entry = table.table(name)
        command = entry.text_list("command", non_empty=True)
        if not any(ADDRESS_FIELD in part for part in command):
            raise entry.error("command", f"must bind to {ADDRESS_FIELD} (the host's address on the "
                              "instance's network path) so that it listens nowhere else")
        port = entry.integer("port", minimum=1024)
        if port > 65535:
            raise entry.error("port", f"{port} is not a TCP port")
        entry.finish()
        servers.append(HostServer(name, tuple(command), port))
    table.finish()
    return tuple(servers)


def _parse_score(table: Table) -> Score:
    unit = table.text("unit")
    better = table.text("better", choices=("higher", "lower", "equal"))
    regex = table.text("regex", default=None)
    json_field = table.text("json_field", default=None)
    json_path = table.text_list("json_path", non_empty=True) if "json_path" in table.data else None
    if sum(way is not None for way in (regex, json_field, json_path)) != 1:
        raise table.error("regex", "give exactly one of regex, json_field and json_path")
    if regex is not None:
        try:
            groups = re.compile(regex).groups
        except re.error as e:
            raise table.error("regex", f"invalid regular expression: {e}") from None
    scale = table.number("scale", default=1.0, positive=True)
    units = _parse_units(table) if "units" in table.data else ()
    if regex is not None and groups != 1 + bool(units):
        wanted = "two capture groups (the value, then its unit)" if units else "one capture group"
        raise table.error("regex", f"needs exactly {wanted}, has {groups}")
    if units and regex is None:
        raise table.error("units", "needs a regex whose second group captures the unit")
    table.finish()
    return Score(unit, better, regex, json_field, tuple(json_path) if json_path else None, float(scale), units)


def _parse_units(table: Table) -> tuple[tuple[str, float], ...]:
    units = table.table("units")
    factors = {printed: units.number(printed, positive=True) for printed in list(units.data)}
    units.finish()
    if not factors:
        raise table.error("units", "must map each unit the tool prints to its factor")
    return tuple((printed, float(f)) for printed, f in factors.items())


def available(root: Path | None = None) -> list[str]:
    root = root or config.workloads_dir()
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/workload.toml"))


def _parse_settle(table: Table, seconds: int | None) -> Settle:
    if seconds is None:
        raise table.error("readings", f"a settled wait ends at its command's end at the latest: give `seconds` "
                          f"and {SECONDS_FIELD} in the command")
    readings = table.integer("readings", default=Settle.readings, minimum=2)
    tolerance = table.number("tolerance", default=Settle.tolerance, positive=True)
    if tolerance >= 1:
        raise table.error("tolerance", f"is a fraction of the readings' mean (0.01 for 1%), got {tolerance!r}")
    table.finish()
    return Settle(readings, float(tolerance))


def load(name: str, root: Path | None = None) -> Workload:
    root = root or config.workloads_dir()
    path = root / name / "workload.toml"
    if not NAME_RE.match(name) or not path.is_file():
        known = ", ".join(available(root)) or "none"
        raise BenchError(f"unknown workload {name!r} (known in {root}: {known})")
    return parse_workload(path, expected_name=name)


def load_selection(names: list[str] | None, root: Path | None = None) -> list[Workload]:
    """The named workloads, or every workload under `root` when `names` is None."""
    chosen = available(root) if names is None else names
    if not chosen:
        raise BenchError(f"no workloads found in {root or config.workloads_dir()}")
    return [load(name, root) for name in sorted(set(chosen))]
