"""The trend report's content: per workload × metric, each host's series of every platform
in run order, the level of each segment between change points, the change points themselves
with their magnitude and stack change, and each platform's ratio to native over time.

Only what the history holds: the series from detect.load_series, the change points from
detect.changes_of (so the report and `bench history detect` never disagree).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from bench.analysis.summary import HEADLINE
from bench.definitions.workload import ARTIFACT_METRIC
from bench.history import detect, schema
from bench.history.detect import ChangePoint, Series
from bench.history.store import Store
from bench.model import registry, units
from bench.model.registry import label
from bench.model.trial import SCORE

HELLO = "hello"  # the workload whose digest shows which user space ran


@dataclass(frozen=True)
class Line:
    """One platform's series on one host."""
    platform: str  # as shown: vm-minimal/tcg
    started_at: list[str]
    medians: list[float]
    intervals: list[tuple[float, float]]
    levels: list[float]  # each point's segment level (a step line)
    changes: list[tuple[int, ChangePoint]]  # the index of the first point after each change


@dataclass
class Panel:
    """One workload × metric on one host."""
    host: str
    workload: str
    metric: str
    unit: str
    better: str
    lines: list[Line] = field(default_factory=list)
    ratios: list[Line] = field(default_factory=list)  # each platform over native, run by run


@dataclass(frozen=True)
class Trend:
    hosts: list[str]
    panels: dict[tuple[str, str], list[Panel]]  # (workload, metric) → one panel per host
    changes: list[ChangePoint]  # every change point, oldest first
    portability: list[dict[str, str]]  # per host: what ran there
    user_space: str  # whether every host ran the same user space, by the hello digests
    artifacts: list[dict[str, str]] = field(default_factory=list)  # per platform: each host's artifact digest
    same_artifacts: str = ""  # which hosts ran identical artifacts
    disturbed: list[dict[str, str]] = field(default_factory=list)  # per run with disturbed trials: which cells


def _levels(series: Series, changes: list[ChangePoint]) -> list[float]:
    """Each point's segment level: from the change points' levels either side."""
    if not changes:
        return [sorted(series.medians)[len(series.medians) // 2]] * len(series.medians)
    index = {run.run_id: i for i, run in enumerate(series.runs)}
    levels, start = [], 0
    for change in changes:
        end = index[change.first_after]
        levels += [change.level_before] * (end - start)
        start = end
    levels += [changes[-1].level_after] * (len(series.medians) - start)
    return levels


def _line(series: Series, changes: list[ChangePoint]) -> Line:
    index = {run.run_id: i for i, run in enumerate(series.runs)}
    return Line(label(series.key.platform, series.key.accel), [r.started_at for r in series.runs], series.medians,
                series.intervals, _levels(series, changes), [(index[c.first_after], c) for c in changes])


def _ratios(native: Series | None, others: list[Series]) -> list[Line]:
    """Each platform's median over native's in the runs both measured."""
    if native is None:
        return []
    base = {run.run_id: m for run, m in zip(native.runs, native.medians) if m > 0}
    found = []
    for series in others:
        pairs = [(run.started_at, m / base[run.run_id]) for run, m in zip(series.runs, series.medians)
                 if run.run_id in base]
        if pairs:
            values = [v for _, v in pairs]
            found.append(Line(label(series.key.platform, series.key.accel), [t for t, _ in pairs], values,
                              [(v, v) for v in values], values, []))
    return found


def build(store: Store, host: str | None = None, since: str | None = None) -> Trend:
    with store.reading() as conn:
        acked = {row.change_id: row.reason for row in conn.execute(sa.select(schema.acks))}
    grouped: dict[tuple[str, str, str], list[Series]] = {}
    for series in detect.load_series(store, host):
        if since is not None:
            keep = [i for i, run in enumerate(series.runs) if run.started_at >= since]
            if not keep:
                continue
            series = dataclasses.replace(series, runs=[series.runs[i] for i in keep],
                                         medians=[series.medians[i] for i in keep],
                                         intervals=[series.intervals[i] for i in keep])
        grouped.setdefault((series.host, series.key.workload, series.key.measured), []).append(series)
    panels: dict[tuple[str, str], list[Panel]] = {}
    every: list[ChangePoint] = []
    for (host_name, workload, metric), found in sorted(grouped.items(), key=lambda item: item[0]):
        found.sort(key=lambda s: (registry.order(s.key.platform), s.key.platform))
        panel = Panel(host_name, workload, metric, found[0].key.unit, found[0].key.better)
        for series in found:
            changes = [dataclasses.replace(c, acked=acked.get(c.id)) for c in detect.changes_of(series)]
            every += changes
            panel.lines.append(_line(series, changes))
        native = next((s for s in found if s.key.platform == "native"), None)
        panel.ratios = _ratios(native, [s for s in found if s is not native])
        panels.setdefault((workload, metric), []).append(panel)
    hosts = sorted({h for h, _, _ in grouped})
    # The headline metrics first (boot time, score, memory, ...), then the start phases and the rest.
    ordered = sorted(panels.items(), key=lambda item: (item[0][1] not in HEADLINE, item[0]))
    digests = _hello_digests(store, hosts)
    artifacts = _artifact_digests(store, hosts)
    return Trend(hosts, dict(ordered), sorted(every, key=lambda c: (c.first_after_at, c.host, c.series)),
                 _portability(store, hosts, digests), _user_space(digests), _artifact_rows(hosts, artifacts),
                 _same_artifacts(hosts, artifacts), _disturbed(store, hosts))


def _portability(store: Store, hosts: Iterable[str], digests: dict[str, HelloDigests]) -> list[dict[str, str]]:
    """Per host, the images and stack its newest run used, and the user space it ran."""
    h, r = schema.hosts, schema.runs
    rows = []
    with store.reading() as conn:
        for name in hosts:
            newest = conn.execute(sa.select(r).join(h, r.c.host_id == h.c.id).where(h.c.name == name)
                                  .order_by(r.c.started_at.desc()).limit(1)).first()
            if newest is not None:
                count = conn.execute(sa.select(sa.func.count()).select_from(r.join(h, r.c.host_id == h.c.id))
                                     .where(h.c.name == name)).scalar_one()
                hello = digests.get(name)
                rows.append({"host": name, "runs": str(count), "newest run": newest.run_id,
                             "hello digest": hello.text(newest.run_id) if hello else "hello not run",
                             "image key": newest.image_key or "not recorded", "kernel": newest.kernel,
                             "docker": newest.docker_engine, "qemu": newest.qemu, "libvirt": newest.libvirt,
                             "harness": newest.harness_commit[:12]})
    return rows


@dataclass(frozen=True)
class HelloDigests:
    """What hello printed on each platform in a host's newest run that ran it."""
    run_id: str
    by_platform: dict[str, str]

    @property
    def agreed(self) -> str | None:
        """The one digest every platform printed, if they agree."""
        found = set(self.by_platform.values())
        return found.pop() if len(found) == 1 else None

    def text(self, newest_run: str) -> str:
        shown = (units.digest(self.agreed) if self.agreed else "differs: " + ", ".join(
            f"{platform} {units.digest(digest)}" for platform, digest in sorted(self.by_platform.items())))
        return shown + ("" if self.run_id == newest_run else f" (run {self.run_id})")


def _hello_digests(store: Store, hosts: Iterable[str]) -> dict[str, HelloDigests]:
    h, r, e = schema.hosts, schema.runs, schema.equal_values
    found = {}
    with store.reading() as conn:
        for name in hosts:
            newest = conn.execute(sa.select(r.c.id, r.c.run_id).join(h, r.c.host_id == h.c.id)
                                  .where(h.c.name == name, sa.exists().where(e.c.run_id == r.c.id,
                                                                             e.c.workload == HELLO,
                                                                             e.c.metric == SCORE))
                                  .order_by(r.c.started_at.desc()).limit(1)).first()
            if newest is not None:
                values = conn.execute(sa.select(e.c.platform, e.c.accel, e.c.value)
                                      .where(e.c.run_id == newest.id, e.c.workload == HELLO, e.c.metric == SCORE)
                                      .order_by(e.c.platform, e.c.accel, e.c.value))
                by_platform: dict[str, str] = {}
                for row in values:  # a platform whose trials disagreed shows as differing from itself
                    key = label(row.platform, row.accel)
                    by_platform[key] = row.value if key not in by_platform else "(several)"
                found[name] = HelloDigests(newest.run_id, by_platform)
    return found


def _artifact_digests(store: Store, hosts: Iterable[str]) -> dict[str, dict[str, str]]:
    """Per host, the artifact each platform ran hello from in its newest run that says."""
    h, r, e = schema.hosts, schema.runs, schema.equal_values
    found: dict[str, dict[str, str]] = {}
    with store.reading() as conn:
        for name in hosts:
            newest = conn.execute(sa.select(r.c.id).join(h, r.c.host_id == h.c.id)
                                  .where(h.c.name == name, sa.exists().where(e.c.run_id == r.c.id,
                                                                             e.c.metric == ARTIFACT_METRIC))
                                  .order_by(r.c.started_at.desc()).limit(1)).scalar()
            if newest is not None:
                rows = conn.execute(sa.select(e.c.platform, e.c.value).where(
                    e.c.run_id == newest, e.c.workload == HELLO, e.c.metric == ARTIFACT_METRIC))
                found[name] = {row.platform: row.value for row in rows}
    return found


def _disturbed(store: Store, hosts: Iterable[str]) -> list[dict[str, str]]:
    """Each run in which other processes disturbed trials: host, run, and each cell's count."""
    h, r, s, p = schema.hosts, schema.runs, schema.series, schema.points
    query = (sa.select(h.c.name, r.c.run_id, r.c.started_at, s.c.workload, s.c.platform, s.c.accel,
                       sa.func.max(p.c.disturbed).label("disturbed"))
             .select_from(p.join(r, p.c.run_id == r.c.id).join(h, r.c.host_id == h.c.id).join(s, p.c.series_id == s.c.id))
             .where(p.c.disturbed > 0, h.c.name.in_(list(hosts)))
             .group_by(h.c.name, r.c.run_id, r.c.started_at, s.c.workload, s.c.platform, s.c.accel)
             .order_by(r.c.started_at, h.c.name, s.c.workload, s.c.platform))
    runs: dict[tuple[str, str, str], list[str]] = {}
    with store.reading() as conn:
        for row in conn.execute(query):
            runs.setdefault((row.name, row.run_id, row.started_at), []).append(
                f"{label(row.platform, row.accel)} {row.workload} ×{row.disturbed}")
    return [{"host": host, "run": run_id, "started": started, "disturbed trials": ", ".join(cells)}
            for (host, run_id, started), cells in runs.items()]


def _artifact_rows(hosts: list[str], found: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    platforms = sorted({p for by_platform in found.values() for p in by_platform}, key=registry.order)
    return [{"platform": p, **{host: units.digest(found.get(host, {}).get(p, "").removeprefix("sha256:")) or "—"
                              for host in hosts}} for p in platforms]


def _same_artifacts(hosts: list[str], found: dict[str, dict[str, str]]) -> str:
    """One sentence: which hosts ran byte-identical artifacts on every platform they share."""
    if len(found) < 2:
        return ("Fewer than two hosts recorded the digests of their artifacts (hello records them): "
                "nothing to compare yet.") if found else ""
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for host in hosts:
        if host in found:
            groups.setdefault(tuple(sorted(found[host].items())), []).append(host)
    if len(groups) == 1:
        return f"All {len(found)} hosts ran identical artifacts on every platform."
    return "Hosts that ran identical artifacts: " + "; ".join(
        ", ".join(members) for members in groups.values()) + " (each group apart from the others)."


def _user_space(digests: dict[str, HelloDigests]) -> str:
    """One sentence: did every host run byte-identical user space, by what hello printed?"""
    if not digests:
        return "No run in this history ran hello, so its user space is not compared between hosts."
    agreed = {host: d.agreed for host, d in digests.items()}
    if None in agreed.values():
        split = sorted(host for host, digest in agreed.items() if digest is None)
        return (f"On {', '.join(split)} the platforms printed different hello digests: they did not all run "
                "the same user space.")
    distinct = sorted(set(agreed.values()))  # type: ignore[arg-type]
    if len(distinct) == 1:
        return (f"Every platform on {'the one host' if len(agreed) == 1 else f'all {len(agreed)} hosts'} printed "
                f"the same hello digest ({units.digest(distinct[0])}): byte-identical user space ran everywhere.")
    return (f"The hosts ran {len(distinct)} different user spaces (hello digests "
            f"{', '.join(units.digest(d) for d in distinct)}): compare their image keys.")
