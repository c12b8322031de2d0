"""What an instance could reach of the host, read from the exposure probe's output and set
against the host's own kernel and namespaces.

The probe (bench/guest/exposure.c) runs as root inside the instance and reports what it saw
there; this module decides whether that was the host's kernel (its boot id, or its build and
boot instant), and which of its namespaces were the host's. A call that reaches another kernel (a VM's, gVisor's Sentry)
reaches the host only through that kernel's own host-side surface, which the instance's
outermost host process shows (its seccomp filter; a VM's device model).
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.model.sample import SampleSink
from bench.probes.isolation import SECCOMP_MODES

REACHABLE, DENIED, ENOSYS, NOT_PROBED = "reachable", "denied", "enosys", "not-probed"
VERDICTS = (REACHABLE, DENIED, ENOSYS, NOT_PROBED)
# capabilities(7), by bit.
CAPABILITIES = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
    "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
    "checkpoint_restore")
# The capabilities escape write-ups start from (mounts and cgroups, another process's memory,
# modules, reading any file by handle, the network stack).
ESCAPE_CAPABILITIES = ("sys_admin", "sys_ptrace", "sys_module", "dac_read_search", "net_admin")
NAMESPACES = ("mnt", "pid", "net", "uts", "ipc", "user", "cgroup", "time")
BOOT_INSTANT_S = 1.0  # two readings of one kernel's boot instant differ by the clocks' read times
HOW = "the exposure probe run as root inside the instance (bench/guest/exposure.c), against the host's /proc"


class ProbeOutputError(ValueError):
    """The probe's output is not what it prints: a truncated or foreign output."""


# A call that failed with these never ran: a seccomp filter or a missing capability stopped it.
DENYING_ERRNOS = ("EPERM", "EACCES")


def classify(outcome: str) -> str:
    """The probe's outcome of one call ("errno EFAULT", "returned", "signal SIGSEGV", "exit 255",
    "not-probed") as one of VERDICTS. Any other error, a return, an exit or a crash inside the
    call means the kernel ran it; SIGSYS is a seccomp filter's kill."""
    kind, _, detail = outcome.partition(" ")
    if kind == NOT_PROBED:
        return NOT_PROBED
    if kind == "errno" and detail == "ENOSYS":
        return ENOSYS
    if kind == "errno" and detail in DENYING_ERRNOS or outcome == "signal SIGSYS":
        return DENIED
    if kind in ("errno", "returned", "signal", "exit"):
        return REACHABLE
    raise ProbeOutputError(f"exposure probe: unknown outcome {outcome!r}")


@dataclass(frozen=True)
class Call:
    name: str
    nr: int
    outcome: str  # as the probe printed it: "errno EFAULT", "returned", "signal SIGSYS", ...

    @property
    def verdict(self) -> str:
        return classify(self.outcome)


@dataclass
class Report:
    """The probe's lines, parsed."""
    facts: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def get(self, key: str, default: str = "") -> str:
        return self.facts.get(key, default)

    def names(self, verdict: str) -> list[str]:
        return [c.name for c in self.calls if c.verdict == verdict]

    @classmethod
    def from_facts(cls, facts: dict[str, str]) -> Report:
        """The calls and capabilities back from a record's exposure.* facts (numbers not kept)."""
        report = cls()
        for key, outcome in (("exposure.reachable", "returned"), ("exposure.denied", "errno EPERM"),
                             ("exposure.not_implemented", "errno ENOSYS"), ("exposure.not_probed", NOT_PROBED)):
            names = facts.get(key, "none")
            report.calls += [Call(name, -1, outcome) for name in names.split() if names != "none"]
        held = facts.get("exposure.capabilities", ": ").split(": ", 1)[1].split()
        report.facts["cap.effective"] = f"{sum(1 << CAPABILITIES.index(c) for c in held if c in CAPABILITIES):x}"
        return report

    def capabilities(self, which: str = "effective") -> list[str]:
        """From capget(2) and PR_CAPBSET_READ (no /proc needed), else /proc/self/status."""
        status = {"effective": "CapEff", "bounding": "CapBnd"}[which]
        try:
            mask = int(self.get(f"cap.{which}") or self.get(f"status.{status}", "0"), 16)
        except ValueError:
            mask = 0
        return [name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1]


def parse(output: str) -> Report:
    report = Report()
    for line in output.splitlines():
        key, _, rest = line.partition("\t")
        if key == "call":
            parts = rest.split("\t")
            if len(parts) != 3 or not parts[1].isdigit():
                raise ProbeOutputError(f"exposure probe: unreadable call line {line!r}")
            call = Call(parts[0], int(parts[1]), parts[2])
            classify(call.outcome)  # an unknown outcome fails here, not later in a report
            report.calls.append(call)
        elif rest or key in ("kernel.boot_id",):
            report.facts[key] = rest.strip()
    if "done" not in report.facts or int(report.facts["done"] or -1) != len(report.calls):
        raise ProbeOutputError(f"exposure probe: its output ended before its last call ({len(report.calls)} read)")
    return report


@dataclass(frozen=True)
class HostView:
    """What the probe's figures are compared with: the host's kernel and namespaces."""
    boot_id: str
    release: str
    version: str  # uname -v: the build
    booted_at: float  # wall-clock time of the kernel's boot, from CLOCK_BOOTTIME
    namespaces: dict[str, str]
    namespaces_of: str  # whose: the host's init, or the harness's own where init's are unreadable

    @classmethod
    def read(cls, proc: Path = Path("/proc")) -> HostView:
        kernel = ((proc / "sys/kernel/random/boot_id").read_text().strip(), platform.release(), platform.version(),
                  time.time() - time.clock_gettime(time.CLOCK_BOOTTIME))
        try:
            return cls(*kernel, _namespaces(proc / "1"), "the host's init (PID 1)")
        except OSError:  # PID 1 of a sandboxed host may hide its namespaces even from root
            return cls(*kernel, _namespaces(proc / str(os.getpid())), "the harness's own")


def _namespaces(pid_dir: Path) -> dict[str, str]:
    found = {}
    for kind in NAMESPACES:
        try:
            found[kind] = os.readlink(pid_dir / "ns" / kind)
        except FileNotFoundError:
            continue
    return found


@dataclass(frozen=True)
class Exposure:
    """One instance's figures."""
    report: Report
    host: HostView

    @property
    def shares_kernel(self) -> bool:
        """The host's boot id; or, where an instance has no /proc or is given a boot id of its own
        (LXC's), the host's kernel build that booted at the same instant (a VM's booted later)."""
        r = self.report
        if r.get("kernel.boot_id") == self.host.boot_id:
            return True
        try:
            same_boot = abs(float(r.get("kernel.booted_at")) - self.host.booted_at) < BOOT_INSTANT_S
        except ValueError:
            return False
        return same_boot and (r.get("kernel.release"), r.get("kernel.version")) == (self.host.release, self.host.version)

    @property
    def unreadable_namespaces(self) -> list[str]:
        return [k for k in self.host.namespaces if self.report.get(f"ns.{k}", "none") == "none"]

    @property
    def shared_namespaces(self) -> list[str]:
        if not self.shares_kernel:
            return []
        return [k for k, v in self.host.namespaces.items() if self.report.get(f"ns.{k}") == v]

    @property
    def host_calls_reachable(self) -> int:
        """Calls that reach the host's kernel itself: every reachable one, if it is the host's."""
        return len(self.report.names(REACHABLE)) if self.shares_kernel else 0

    def preconditions(self) -> list[str]:
        """Escape preconditions present. Against another kernel (a VM's, the Sentry) devices,
        /proc, /sys and capabilities are that kernel's: only an engine's socket still reaches the host."""
        r, present = self.report, []
        if r.get("pre.engine_sockets", "none") != "none":
            present.append(f"a container engine's or libvirt's socket reachable ({r.get('pre.engine_sockets')})")
        if not self.shares_kernel:
            return present
        if r.get("pre.block_devices", "none") != "none":
            present.append(f"host block devices in /dev ({r.get('pre.block_devices')})")
        for key, what in (("pre.proc_sys_writable", "/proc/sys writable"), ("pre.sys_writable", "/sys writable"),
                          ("pre.kcore_readable", "/proc/kcore readable"),
                          ("pre.dev_mem_readable", "/dev/mem readable")):
            if r.get(key) == "yes":
                present.append(what)
        if r.get("pre.release_agents", "none") != "none":
            present.append("a writable cgroup release_agent")
        held = set(r.capabilities())
        present += [f"CAP_{c.upper()}" for c in ESCAPE_CAPABILITIES if c in held]
        if "pid" in self.shared_namespaces:
            present.append(f"host processes visible ({r.get('processes')} in /proc)")
        return present

    def kernel(self) -> str:
        release = self.report.get("kernel.release", "?")
        if self.shares_kernel:
            return f"the host's ({release}, the same boot id)"
        return f"another ({release}, a boot id not the host's)"

    def lands(self, facts: dict[str, str]) -> str:
        """Where the reachable calls land, and what of the host stands behind that."""
        if self.shares_kernel:
            return "the host kernel"
        outer = (f"{facts.get('isolation.process', 'its host process')} under seccomp "
                 f"{facts.get('isolation.seccomp', 'unknown')}" +
                 (f" ({facts['isolation.seccomp_filters']} filters)" if facts.get("isolation.seccomp_filters") else ""))
        kernel = facts.get("isolation.kernel", "")
        if kernel.startswith("gVisor"):
            return f"gVisor's Sentry (a user-space kernel); on the host: the Sentry's own calls, {outer}"
        if kernel.startswith("its own"):
            devices = facts.get("vmm.devices", "its virtual devices (not recorded)")
            # Under KVM every VM exit also enters the host kernel's KVM module; TCG has none.
            cpu = {"kvm": "the host kernel's KVM module at every VM exit",
                   "tcg": "TCG emulation in QEMU (no KVM module)"}.get(facts.get("accel", ""), "its accelerator")
            return f"the guest's own kernel; on the host: the VMM's device model ({devices}), {cpu}, {outer}"
        return f"a kernel other than the host's; on the host: {outer}"

    def facts(self, instance_facts: dict[str, str]) -> dict[str, str]:
        r = self.report
        held, bounding = r.capabilities(), r.capabilities("bounding")
        counts = {v: len(r.names(v)) for v in VERDICTS}
        return {
            "exposure.kernel": self.kernel(),
            "exposure.namespaces_shared": (" ".join(self.shared_namespaces) or "none") + (
                f" (not readable inside, no /proc: {' '.join(self.unreadable_namespaces)})"
                if self.unreadable_namespaces else ""),
            "exposure.namespaces_compared_with": self.host.namespaces_of,
            "exposure.capabilities": f"{len(held)} of {len(CAPABILITIES)}: " + (" ".join(held) or "none"),
            "exposure.bounding_set": f"{len(bounding)} of {len(CAPABILITIES)}",
            "exposure.seccomp": SECCOMP_MODES.get(
                r.get("seccomp.mode") or r.get("status.Seccomp"), "unknown")
            + (f" ({r.get('status.Seccomp_filters')} filters)" if r.get("status.Seccomp_filters") not in ("", "0")
               else ""),
            "exposure.no_new_privs": "yes" if (r.get("no_new_privs") or r.get("status.NoNewPrivs")) == "1" else "no",
            "exposure.uid_map": " ".join(r.get("uid_map").split()) or "none",
            "exposure.lsm": r.get("lsm", "none"),
            "exposure.calls": f"{counts[REACHABLE]} reachable, {counts[DENIED]} denied, {counts[ENOSYS]} not "
                              f"implemented, {counts[NOT_PROBED]} not probed, of {len(r.calls)}",
            "exposure.reachable": " ".join(r.names(REACHABLE)) or "none",
            "exposure.denied": " ".join(r.names(DENIED)) or "none",
            "exposure.not_implemented": " ".join(r.names(ENOSYS)) or "none",
            "exposure.not_probed": " ".join(r.names(NOT_PROBED)) or "none",
            "exposure.preconditions": "; ".join(self.preconditions()) or "none",
            "exposure.lands": self.lands(instance_facts),
        }

    def record(self, sink: SampleSink) -> None:
        r = self.report
        for metric, value, better in (
                ("syscalls_reachable", len(r.names(REACHABLE)), "lower"),
                ("syscalls_host_reachable", self.host_calls_reachable, "lower"),
                ("syscalls_denied", len(r.names(DENIED)), "higher"),
                ("syscalls_probed", sum(c.verdict != NOT_PROBED for c in r.calls), "higher"),
                ("capabilities_held", len(r.capabilities()), "lower"),
                ("preconditions_present", len(self.preconditions()), "lower")):
            sink.add(metric, value, "count", better, probe=HOW)
