"""The exposure probe for real, as root inside every platform: what each reaches of the host's
kernel, and Docker's figures against its engine's own default seccomp profile. A privileged
container flips the preconditions: the checks can fail. Nothing is left on the host."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import docker

from bench import config
from bench.guest import exposure as probe_build
from bench.host import engines
from bench.operations import cleanup
from bench.probes import exposure
from bench.rundir.results import RunDir
from tests import hoststate, seccomp_profile
from tests.integration.test_run import only_run_dir, write_suite
from tests.realhost import bench, require_platforms

PLATFORMS = ["native", "docker", "docker-app", "gvisor", "podman", "lxc", "vm"]
SUITE = f"""\
name = "it-exposure"
platforms = {PLATFORMS!r}
workloads = ["exposure"]
repetitions = 1
warmup = 0
seed = 29
"""


def host_kernel_objects() -> dict[str, str]:
    """What a probe that acted would change: System V queues, the host name, swap."""
    return {path: Path(path).read_text() for path in ("/proc/sysvipc/msg", "/proc/swaps")} | \
        {"hostname": socket.gethostname()}


def harness_capability_names() -> list[str]:
    status = dict(line.split(":\t", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":\t" in line)
    mask = int(status["CapBnd"], 16)
    return [name for bit, name in enumerate(exposure.CAPABILITIES) if mask >> bit & 1]


def test_every_platform_probed_with_the_expected_orderings(tmp_path: Path, images: dict) -> None:
    require_platforms(*PLATFORMS)
    before, objects = hoststate.snapshot(), host_kernel_objects()
    proc = bench("run", str(write_suite(tmp_path, text=SUITE)), "--output-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert hoststate.differences(before, hoststate.snapshot()) == [] and host_kernel_objects() == objects
    assert cleanup.leftovers() == []
    run_dir = only_run_dir(tmp_path / "runs")
    records = {r.platform: r for r in RunDir.open(run_dir).records()}
    assert sorted(records) == sorted(PLATFORMS) and all(r.ok for r in records.values())
    figures = {p: {s.metric: s.value for s in r.samples} for p, r in records.items()}
    facts = {p: r.facts for p, r in records.items()}
    for p, found in figures.items():
        print(f"{p}: {facts[p]['exposure.calls']}; host-kernel calls {found['syscalls_host_reachable']:.0f}; "
              f"{facts[p]['exposure.capabilities'].split(':')[0]} capabilities; lands: {facts[p]['exposure.lands']}; "
              f"preconditions: {facts[p]['exposure.preconditions']}")

    native = figures["native"]
    assert native["syscalls_denied"] == 0  # root on the host: nothing refused it
    assert native["capabilities_held"] == len(harness_capability_names())
    assert facts["native"]["exposure.lands"] == "the host kernel"
    for shared in ("docker", "docker-app", "podman", "lxc"):
        assert facts[shared]["exposure.kernel"].startswith("the host's"), shared
        assert 0 < figures[shared]["syscalls_host_reachable"] < native["syscalls_host_reachable"], shared
        assert figures[shared]["capabilities_held"] < native["capabilities_held"], shared
        assert "pid" not in facts[shared]["exposure.namespaces_shared"].split(), shared
    assert facts["gvisor"]["exposure.lands"].startswith("gVisor's Sentry")
    assert facts["vm"]["exposure.lands"].startswith("the guest's own kernel; on the host: the VMM's device model (")
    assert "disk virtio" in facts["vm"]["vmm.devices"]
    for own in ("gvisor", "vm"):
        assert figures[own]["syscalls_host_reachable"] == 0 and facts[own]["exposure.kernel"].startswith("another")
    assert figures["vm"]["syscalls_denied"] == 0  # root in its own kernel, no filter
    assert figures["docker"]["preconditions_present"] < native["preconditions_present"]

    # Docker's default profile for the installed engine: every denial found, every other outcome allowed.
    profile, numbers = seccomp_profile.load(), probe_build.architecture_calls()
    for platform in ("docker", "docker-app"):
        report = exposure.Report.from_facts(facts[platform])
        expected = seccomp_profile.profile_denies(report, profile, numbers)
        found = set(report.names(exposure.DENIED)) | set(report.names(exposure.ENOSYS))
        print(f"{platform}: the profile denies {len(expected)} probed calls; {len(set(expected) & found)} found "
              f"denied; {len(report.names(exposure.DENIED))} denied in all")
        assert seccomp_profile.disagreements(report, profile, numbers) == [], platform
        assert set(expected) <= found

    # The report's Isolation finding and table come from these figures.
    html = (run_dir / "index.html").read_text()
    assert "System calls that reach the host kernel" in html and "Security by default" in html
    summary = (run_dir / "summary.csv").read_text()
    assert "syscalls_host_reachable" in summary


def probe_in_container(client, image: str, **host_config) -> exposure.Exposure:
    """The probe in a container of the image, with these HostConfig options (docker-py's names,
    and Docker's own for those it lacks: MaskedPaths, ReadonlyPaths)."""
    raw = {k: host_config.pop(k) for k in ("MaskedPaths", "ReadonlyPaths") if k in host_config}
    config_ = {**client.api.create_host_config(**host_config), **raw}
    created = client.api.create_container(image, [f"{config.GUEST_LIB}/exposure"], host_config=config_,
                                          labels={config.LABEL: "instance", config.RUN_LABEL: "exposure-test"},
                                          name=f"{config.NAME_PREFIX}exposure-test-{os.getpid()}-{len(host_config)}")
    container = client.containers.get(created["Id"])
    try:
        container.start()
        assert container.wait(timeout=120)["StatusCode"] == 0
        output = container.logs(stdout=True, stderr=False).decode()
    finally:
        container.remove(force=True)
    return exposure.Exposure(exposure.parse(output), exposure.HostView.read())


def privileged(client, image: str) -> tuple[str, exposure.Exposure]:
    """--privileged; where the engine's own bounding set lacks a capability it grants (runc: "unable
    to apply caps", CAP_SYS_RESOURCE on this sandboxed host), the nearest it allows: every other
    capability, no seccomp filter, /proc's paths neither masked nor read-only, the host's /sys
    writable and its block devices."""
    try:
        return "--privileged", probe_in_container(client, image, privileged=True)
    except docker.errors.APIError as e:
        if "apply caps" not in str(e):
            raise
    held = harness_capability_names()
    missing = [c.upper() for c in exposure.CAPABILITIES if c not in held]
    devices = [f"/dev/{d}:/dev/{d}" for d in os.listdir("/dev") if stat.S_ISBLK(os.stat(f"/dev/{d}").st_mode)]
    return (f"privileged but for {', '.join(missing)}", probe_in_container(
        client, image, cap_add=["ALL"], cap_drop=missing, devices=devices, security_opt=["seccomp=unconfined"],
        binds={"/sys": {"bind": "/sys", "mode": "rw"}}, MaskedPaths=[], ReadonlyPaths=[]))


def test_a_privileged_container_flips_the_preconditions(images: dict) -> None:
    client = engines.docker_client()
    image = images["container_image"]["sha256"]
    default = probe_in_container(client, image).preconditions()
    how, found = privileged(client, image)
    flipped = found.preconditions()
    print(f"default: {default}\n{how}: {flipped}")
    for precondition in ("CAP_SYS_ADMIN", "/sys writable", "/proc/sys writable"):
        assert precondition in flipped and precondition not in default, precondition
    assert any(p.startswith("host block devices") for p in flipped)
    assert not any(p.startswith("host block devices") for p in default)
    assert client.containers.list(all=True, filters={"label": f"{config.RUN_LABEL}=exposure-test"}) == []
