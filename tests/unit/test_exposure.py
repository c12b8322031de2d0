"""The exposure probe: its outcomes classified, the calls it never makes, its figures against the
host, Docker's profile as the source of truth, and findings that name their platforms."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.guest import exposure as probe_build
from bench.probes import exposure
from bench.probes.exposure import DENIED, ENOSYS, NOT_PROBED, REACHABLE
from bench.report import findings
from bench.rundir import runs
from tests import seccomp_profile
from tests.unit.synthetic_runs import baseline_values, write_run

HOST = exposure.HostView("b00t", "6.1.0", "#1 SMP", 1000.0, {"mnt": "mnt:[1]", "pid": "pid:[2]", "net": "net:[3]"},
                         "the host's init")


@pytest.mark.parametrize(("outcome", "verdict"), [
    ("errno EFAULT", REACHABLE), ("errno EBADF", REACHABLE), ("errno EINVAL", REACHABLE), ("returned", REACHABLE),
    ("exit 255", REACHABLE), ("signal SIGSEGV", REACHABLE), ("signal SIGALRM", REACHABLE),
    ("errno EPERM", DENIED), ("errno EACCES", DENIED), ("signal SIGSYS", DENIED),
    ("errno ENOSYS", ENOSYS), ("not-probed", NOT_PROBED)])
def test_an_outcome_is_classified_by_its_errno_or_signal(outcome: str, verdict: str) -> None:
    assert exposure.classify(outcome) == verdict


def test_an_unknown_outcome_or_a_cut_output_is_refused() -> None:
    with pytest.raises(exposure.ProbeOutputError, match="unknown outcome"):
        exposure.parse("call\tread\t0\tmaybe\ndone\t1\n")
    with pytest.raises(exposure.ProbeOutputError, match="ended before its last call"):
        exposure.parse("call\tread\t0\terrno EBADF\ncall\twrite\t1\terrno EBADF\n")
    with pytest.raises(exposure.ProbeOutputError, match="unreadable call line"):
        exposure.parse("call\tread\tzero\terrno EBADF\ndone\t1\n")


def output(boot_id: str, calls: dict[str, str], cap_eff: str = "00000000a80425fb", booted_at: float = 1000.2,
           **facts: str) -> str:
    lines = ["kernel.release\t6.1.0", "kernel.version\t#1 SMP", f"kernel.boot_id\t{boot_id}", f"cap.effective\t{cap_eff}",
             f"kernel.booted_at\t{booted_at}",
             "status.Seccomp\t2", "status.Seccomp_filters\t1", "ns.mnt\tmnt:[9]", "ns.pid\tpid:[2]", "ns.net\tnet:[3]",
             "pre.engine_sockets\tnone", "pre.block_devices\tnone", "processes\t3"]
    lines += [f"{k.replace('_', '.', 1)}\t{v}" for k, v in facts.items()]
    lines += [f"call\t{name}\t{nr}\t{outcome}" for nr, (name, outcome) in enumerate(calls.items())]
    return "\n".join(lines + [f"done\t{len(calls)}"]) + "\n"


CALLS = {"read": "errno EBADF", "mount": "errno EPERM", "clone3": "errno ENOSYS", "reboot": "not-probed",
         "pause": "signal SIGALRM"}


def test_on_the_host_kernel_every_reachable_call_reaches_it() -> None:
    found = exposure.Exposure(exposure.parse(output("b00t", CALLS, pre_proc_sys_writable="yes")), HOST)
    assert found.shares_kernel and found.host_calls_reachable == 2
    assert found.shared_namespaces == ["pid", "net"]  # mnt:[9] is its own
    present = found.preconditions()
    assert "/proc/sys writable" in present and "host processes visible (3 in /proc)" in present
    assert not any(p.startswith("CAP_SYS_ADMIN") for p in present)  # Docker's 14 hold none of those
    facts = found.facts({})
    assert facts["exposure.lands"] == "the host kernel"
    assert facts["exposure.calls"] == "2 reachable, 1 denied, 1 not implemented, 1 not probed, of 5"
    assert facts["exposure.capabilities"].startswith("14 of 41: chown dac_override fowner fsetid kill setgid")


def test_the_same_kernel_is_known_by_its_build_and_boot_instant_where_the_boot_id_is_its_own() -> None:
    # LXC gives each container a boot id of its own; a chroot without /proc reads none.
    for boot_id in ("lxc-own", "unreadable"):
        assert exposure.Exposure(exposure.parse(output(boot_id, CALLS, booted_at=1000.4)), HOST).shares_kernel
    # The same build booted at another instant is another kernel: a VM's.
    assert not exposure.Exposure(exposure.parse(output("vm", CALLS, booted_at=1350.0)), HOST).shares_kernel
    no_proc = exposure.Exposure(exposure.parse(output("unreadable", CALLS, ns_mnt="none")), HOST)
    assert no_proc.facts({})["exposure.namespaces_shared"] == "pid net (not readable inside, no /proc: mnt)"


def test_on_another_kernel_no_call_and_no_device_is_the_hosts() -> None:
    report = exposure.parse(output("other", CALLS, cap_eff="000001ffffffffff", pre_block_devices="vda",
                                   pre_engine_sockets="/run/docker.sock", booted_at=5000.0))
    found = exposure.Exposure(report, HOST)
    assert not found.shares_kernel and found.host_calls_reachable == 0 and found.shared_namespaces == []
    # Only an engine's socket still reaches the host from another kernel.
    assert found.preconditions() == ["a container engine's or libvirt's socket reachable (/run/docker.sock)"]
    vm = found.lands({"isolation.kernel": "its own (6.1.0-cloud, tcg)", "isolation.process": "qemu-system-x86",
                      "isolation.seccomp": "filter", "isolation.seccomp_filters": "1", "accel": "tcg",
                      "vmm.devices": "disk virtio, serial pty"})
    assert vm.startswith("the guest's own kernel; on the host: the VMM's device model (disk virtio, serial pty)")
    assert "qemu-system-x86 under seccomp filter (1 filters)" in vm
    sentry = found.lands({"isolation.kernel": "gVisor's user-space kernel (runsc)", "isolation.process": "exe",
                          "isolation.seccomp": "filter"})
    assert sentry.startswith("gVisor's Sentry")


def test_the_calls_never_made_are_named_once_and_exist_on_this_architecture() -> None:
    calls = probe_build.architecture_calls()
    assert set(probe_build.NOT_PROBED) <= set(calls), set(probe_build.NOT_PROBED) - set(calls)
    header = probe_build.calls_header(calls)
    for name in calls:
        assert f'"{name}", {0 if name in probe_build.NOT_PROBED else 1}}}' in header


def test_the_built_probe_never_makes_those_calls_and_classifies_the_rest(tmp_path: Path) -> None:
    """Built and run here, unprivileged (as nobody when the tests run as root): every line parses,
    the never-made calls say so, and an unprivileged caller is denied what needs a capability."""
    binary = tmp_path / "exposure"
    probe_build.build(binary, tmp_path / "work")
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    done = subprocess.run([*as_nobody, str(binary)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = exposure.parse(done.stdout)
    assert sorted(report.names(NOT_PROBED)) == sorted(probe_build.NOT_PROBED)
    assert len(report.calls) == len(probe_build.architecture_calls())
    verdicts = {c.name: c.verdict for c in report.calls}
    assert verdicts["read"] == verdicts["getpid"] == REACHABLE
    assert report.capabilities() == []
    assert verdicts["setns"] == REACHABLE  # a bad descriptor is checked before any capability
    # Without CAP_SYS_ADMIN the kernel refuses these before it looks at their arguments.
    assert verdicts["pivot_root"] == verdicts["fsopen"] == verdicts["fanotify_init"] == DENIED


FIXTURE_CAPS = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
                "CAP_KILL", "CAP_AUDIT_WRITE"}  # Docker's default set


def test_the_profile_fixture_denies_what_docker_documents_and_allows_the_rest() -> None:
    numbers = probe_build.architecture_calls()
    permitted = seccomp_profile.allowed_outcomes(seccomp_profile.load(), FIXTURE_CAPS, numbers)
    for denied in ("mount", "umount2", "unshare", "setns", "bpf", "pivot_root", "keyctl", "open_by_handle_at",
                   "kcmp", "iopl", "clock_settime", "init_module", "add_key"):
        assert permitted[denied] == {DENIED}, denied
    assert permitted["clone3"] == {ENOSYS}  # glibc falls back to clone on ENOSYS
    assert REACHABLE in permitted["read"] and REACHABLE in permitted["ptrace"]  # from kernel 4.8
    assert REACHABLE in permitted["chroot"]  # CAP_SYS_CHROOT is among the 14
    with_admin = seccomp_profile.allowed_outcomes(seccomp_profile.load(), FIXTURE_CAPS | {"CAP_SYS_ADMIN"}, numbers)
    assert REACHABLE in with_admin["mount"] and REACHABLE in with_admin["clone3"]
    # Newer than any call the 20.10 profile names: runc answers ENOSYS, not the default EPERM.
    assert permitted["set_mempolicy_home_node"] == {ENOSYS}


def test_a_report_that_reaches_a_denied_call_disagrees_with_the_profile() -> None:
    profile, numbers = seccomp_profile.load(), probe_build.architecture_calls()
    agreeing = exposure.parse(output("x", {"read": "errno EBADF", "mount": "errno EPERM", "clone3": "errno ENOSYS"}))
    assert seccomp_profile.disagreements(agreeing, profile, numbers) == []
    assert seccomp_profile.profile_denies(agreeing, profile, numbers) == ["mount", "clone3"]
    leaking = exposure.parse(output("x", {"read": "errno EBADF", "mount": "errno EFAULT", "clone3": "errno EINVAL"}))
    assert seccomp_profile.disagreements(leaking, profile, numbers) == ["mount: reachable (errno EFAULT)",
                                                                        "clone3: reachable (errno EINVAL)"]


EXPOSED = {"syscalls_host_reachable": 300.0, "syscalls_reachable": 300.0, "syscalls_probed": 348.0,
           "capabilities_held": 14.0, "preconditions_present": 1.0}


def exposure_values(platforms: dict[str, dict[str, float]]) -> dict:
    values = baseline_values()
    for platform, figures in platforms.items():
        for metric, value in {**EXPOSED, **figures}.items():
            values[("exposure", platform, metric)] = [value] * 5
    return values


def security_run(tmp_path: Path, platforms: dict[str, dict[str, float]], name: str = "sec") -> dict:
    kinds = {m: ("count", "lower") for m in EXPOSED}
    lands = {("exposure", p): {"exposure.lands": "the host kernel" if p in ("native", "docker") else "elsewhere"}
             for p in platforms}
    path = write_run(tmp_path, name, exposure_values(platforms), kinds=kinds, facts=lands)
    return {f.topic: f for f in findings.findings(runs.load(path))}


def test_the_isolation_finding_is_derived_from_the_probe_and_names_its_platforms(tmp_path: Path) -> None:
    vm = {"syscalls_host_reachable": 0.0, "capabilities_held": 41.0, "preconditions_present": 0.0}
    found = security_run(tmp_path, {"native": {"capabilities_held": 40.0, "preconditions_present": 9.0},
                                    "docker": {}, "vm": vm})["Isolation"]
    assert found.verdict == findings.CONFIRMED
    assert "vm-minimal/tcg 0 calls, 0 preconditions" in found.why and "docker 300 calls, 1 preconditions" in found.why
    assert "docker reached 300 of the host kernel's system calls (300 of 348 probed" in found.measured
    sandboxed = security_run(tmp_path, {"docker": {}, "gvisor": {"syscalls_host_reachable": 0.0,
                                                                "preconditions_present": 0.0}, "vm": vm}, "sand")
    assert sandboxed["Isolation"].verdict == findings.PARTLY
    assert "not against a sandboxed one" in sandboxed["Isolation"].why and "gvisor 0 calls" in sandboxed["Isolation"].why
    leaky = security_run(tmp_path, {"docker": {"syscalls_host_reachable": 0.0, "preconditions_present": 0.0},
                                    "vm": vm}, "leak")
    assert leaky["Isolation"].verdict == findings.CONTRADICTED
    unprobed = {f.topic: f for f in findings.findings(runs.load(write_run(tmp_path, "none", baseline_values())))}
    assert unprobed["Isolation"].verdict == findings.UNMEASURED and "exposure" in unprobed["Isolation"].why


def test_the_cpu_finding_judges_plain_containers_apart_from_gvisor(tmp_path: Path) -> None:
    values = baseline_values()
    values[("cpu", "gvisor", "score")] = [3100.0 * 0.965 * w for w in (1.0, 1.01, 0.99, 1.005, 0.995)]
    cpu = {f.topic: f for f in findings.findings(runs.load(write_run(tmp_path, "cpu", values, vm_accel="kvm")))}["CPU"]
    assert "plain-runtime containers lost nothing (docker 0.997×" in cpu.why
    assert "gvisor lost 3.5 % (0.965×" in cpu.why
    assert cpu.verdict == findings.PARTLY  # the VM (0.11×) lost more than a little
