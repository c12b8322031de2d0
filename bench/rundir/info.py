"""run.json as one typed record: what the run is (its suite, seed and plan), where and how it
was made (harness, host, versions, images, storage), and what the run learnt as it went (the
precision rule's stops, the engines' memory, its resumptions).

The file carries `format`: 2 since it has had the field; a file without one (format 1) holds
the same fields and is read the same way. A newer format is refused in one line rather than
half understood.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bench.analysis.noisefloor import NoiseFloor
from bench.definitions.suite import Suite
from bench.errors import BenchError
from bench.host.facts import HostInfo
from bench.model.trial import PlannedTrial

FORMAT = 2


@dataclass(frozen=True)
class Harness:
    commit: str  # or "unknown (not a git checkout)"
    dirty: bool | None  # uncommitted changes to tracked files; None outside a checkout


@dataclass(frozen=True)
class Resumption:
    at: str
    command: str


@dataclass(frozen=True)
class PrecisionStop:
    """Where the precision rule left one cell (platform × workload): its repetitions, the
    relative half-width its headline figure reached and why it stopped."""

    platform: str
    workload: str
    metric: str
    n: int
    half_width: float | None  # None: no interval (fewer than two values)
    target: float | None  # None: the figure has no width (a digest)
    against_native: bool  # the width is the ratio to native's
    below_resolution: bool
    stopped: str  # precise, cap, or no width
    dimensions: str = ""


@dataclass
class RunInfo:
    run_id: str
    suite: Suite
    seed: int
    accel_requested: str  # auto, kvm or tcg
    plan: list[PlannedTrial]
    started_at: str
    command: str
    harness: Harness
    host: HostInfo
    # Fact sheets shown by name in the report's provenance: the accelerator probe's verdict,
    # tool and library versions, the images' artifacts, the cache's file system.
    accelerator_verdict: dict[str, Any] | None
    versions: dict[str, Any]
    images: dict[str, Any]
    storage: dict[str, Any]
    # Each workload the run measured → its kind; empty in a file from before the field (the
    # report then tells a kind from its trials' facts: rundir.runs.LoadedRun.kinds).
    kinds: dict[str, str] = field(default_factory=dict)
    precision: dict[str, PrecisionStop] | None = None  # "platform/workload" → its stop, under [precision]
    engines_memory: dict[str, Any] | None = None  # after the last trial
    resumed: list[Resumption] = field(default_factory=list)
    noise_floor: NoiseFloor | None = None  # measured before the first trial
    host_profile: dict[str, Any] | None = None  # the hosts/NAME.toml the run was told it runs on (--host)
    tuned: dict[str, Any] | None = None  # what `bench run --tune` set for the run: knob → value

    @property
    def image_key(self) -> str:
        return str(self.images.get("key", ""))

    @property
    def host_name(self) -> str:
        """The host as the history knows it: its profile's name, else its hostname."""
        return str((self.host_profile or {}).get("name") or self.host.hostname)

    @property
    def user_images(self) -> dict[str, dict[str, Any]]:
        """Each workload's user image as the run found it: source, id, bytes, tree hash, ..."""
        return dict(self.images.get("user_images", {}))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT, **{f.name: getattr(self, f.name) for f in fields(self)}}
        data["suite"] = self.suite.to_json()
        data["plan"] = [t.to_json() for t in self.plan]
        data["harness"], data["host"] = asdict(self.harness), self.host.to_json()
        data["resumed"] = [asdict(r) for r in self.resumed]
        if self.precision is not None:
            data["precision"] = {cell: asdict(stop) for cell, stop in self.precision.items()}
        if self.noise_floor is not None:
            data["noise_floor"] = self.noise_floor.to_json()
        # Absent rather than empty, as the run wrote them before they were known.
        return {k: v for k, v in data.items() if not (k in OPTIONAL and v in (None, [], {}))}

    def as_written(self) -> dict[str, Any]:
        """to_json as run.json holds it: plain JSON types, keys sorted."""
        return json.loads(json.dumps(self.to_json(), sort_keys=True))

    @classmethod
    def from_json(cls, data: Any) -> RunInfo:
        """A run description, or a ValueError (TypeError, KeyError) saying which field is wrong."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        version = data.get("format", 1)
        if not isinstance(version, int) or version > FORMAT:
            raise ValueError(f"format {version!r} is newer than this harness reads ({FORMAT}); update vmct-bench")
        for name in ("suite", "plan"):
            if name not in data:
                raise ValueError(f"no {name}")
        suite = Suite.from_json(_table(data, "suite"))
        precision = data.get("precision")
        return cls(
            run_id=_text(data, "run_id"), suite=suite, seed=int(data.get("seed", suite.seed)),
            accel_requested=str(data.get("accel_requested", "auto")),
            plan=[PlannedTrial.from_json(t) for t in data["plan"]],
            started_at=str(data.get("started_at", "")), command=str(data.get("command", "")),
            harness=Harness(**data.get("harness", {"commit": "unknown", "dirty": None})),
            host=HostInfo.from_json(_table(data, "host")),
            accelerator_verdict=data.get("accelerator_verdict"), versions=_table(data, "versions"),
            images=_table(data, "images"), storage=data.get("storage", {}), kinds=_table(data, "kinds"),
            precision=None if precision is None else {cell: PrecisionStop(**s) for cell, s in precision.items()},
            engines_memory=data.get("engines_memory"),
            resumed=[Resumption(**r) for r in data.get("resumed", [])],
            noise_floor=None if data.get("noise_floor") is None else NoiseFloor.from_json(_table(data, "noise_floor")),
            host_profile=data.get("host_profile"), tuned=data.get("tuned"))


OPTIONAL = ("precision", "engines_memory", "resumed", "kinds", "noise_floor", "host_profile", "tuned")


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ValueError(f"{name} is not a table")
    return value


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"no {name}")
    return value


def read(text: str, where: str) -> RunInfo:
    """run.json's text; a one-line BenchError naming `where` and the field when it is not one."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise BenchError(f"{where}: unreadable: {e}") from None
    try:
        return RunInfo.from_json(data)
    except (ValueError, TypeError, KeyError) as e:
        raise BenchError(f"{where}: not a run description: {e}") from None
