"""The exposure probe's figures against Docker's default seccomp profile (the rules of moby's
profiles/seccomp/default.json at the installed engine's release, kept as a fixture): which
outcomes the profile leaves each call, given the capabilities the container held."""

from __future__ import annotations

import json
from pathlib import Path

from bench.probes.exposure import DENIED, ENOSYS, REACHABLE, Report

FIXTURE = Path(__file__).parent / "unit/fixtures/moby-v20.10.24-seccomp-default.json"
ENOSYS_ERRNO = 38


def load() -> dict:
    return json.loads(FIXTURE.read_text())


def _applies(rule: dict, capabilities: set[str], arch: str) -> bool:
    includes, excludes = rule.get("includes", {}), rule.get("excludes", {})
    if "arches" in includes and arch not in includes["arches"] or arch in excludes.get("arches", ()):
        return False
    # minKernel (ptrace from 4.8): every kernel this harness runs on is newer.
    return set(includes.get("caps", ())) <= capabilities and not set(excludes.get("caps", ())) & capabilities


def allowed_outcomes(profile: dict, capabilities: set[str], numbers: dict[str, int],
                     arch: str = "amd64") -> dict[str, set[str]]:
    """name → the verdicts the profile permits for the probe's arguments. An allowed call may be
    reachable, denied by a capability the container lacks, or absent from this kernel; a call
    allowed only for some arguments may also be denied for the probe's; an errno rule gives its
    errno; every other call gets the default action's EPERM, except that runc answers a call
    newer than every call the profile names with ENOSYS (so that a C library falls back)."""
    plain, conditional, errnos = set(), set(), {}
    for rule in profile["rules"]:
        if not _applies(rule, capabilities, arch):
            continue
        if rule["action"] == "SCMP_ACT_ALLOW":
            (conditional if rule.get("args") else plain).update(rule["names"])
        elif rule["action"] == "SCMP_ACT_ERRNO":
            errnos.update({name: rule["errno_ret"] for name in rule["names"]})
    assert profile["default_action"] == "SCMP_ACT_ERRNO"

    named = {n for rule in profile["rules"] for n in rule["names"]}
    newest = max(nr for name, nr in numbers.items() if name in named)

    def outcomes(name: str) -> set[str]:
        if name in plain or name in conditional:
            return {REACHABLE, DENIED, ENOSYS}
        if name in errnos:
            return {ENOSYS} if errnos[name] == ENOSYS_ERRNO else {DENIED}
        return {ENOSYS} if numbers.get(name, -1) > newest else {DENIED}
    return {name: outcomes(name) for name in numbers}


def _permitted(report: Report, profile: dict, numbers: dict[str, int]) -> dict[str, set[str]]:
    return allowed_outcomes(profile, {f"CAP_{c.upper()}" for c in report.capabilities()}, numbers)


def disagreements(report: Report, profile: dict, numbers: dict[str, int]) -> list[str]:
    """Each probed call whose outcome the profile does not permit, as "name: verdict (outcome)"."""
    permitted = _permitted(report, profile, numbers)
    return [f"{c.name}: {c.verdict} ({c.outcome})" for c in report.calls
            if c.verdict in (REACHABLE, DENIED, ENOSYS) and c.verdict not in permitted[c.name]]


def profile_denies(report: Report, profile: dict, numbers: dict[str, int]) -> list[str]:
    """The probed calls the profile denies outright (EPERM, or runc's ENOSYS), for these capabilities."""
    permitted = _permitted(report, profile, numbers)
    return [c.name for c in report.calls if c.verdict != "not-probed" and REACHABLE not in permitted[c.name]]
