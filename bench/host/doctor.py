"""`bench doctor`: what this host can run, each platform with its version, or why not and
the fix; the VM accelerator it chose; and the host's provenance.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass

import bench
from bench.cli.progress import Progress
from bench.errors import BenchError
from bench.host import accel, engines, facts


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    version: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    verdict: accel.Verdict | None
    host: facts.HostInfo

    @property
    def ok(self) -> bool:
        """Native, Docker and at least one VM accelerator work."""
        by_name = {c.name: c.ok for c in self.checks}
        return by_name["native"] and by_name["docker"] and bool(self.verdict and self.verdict.chosen)

    @property
    def vm_accel(self) -> str | None:
        return self.verdict.chosen.accel if self.verdict and self.verdict.chosen else None

    def to_json(self) -> dict[str, object]:
        return {
            "harness_version": bench.__version__,
            "ok": self.ok,
            "vm_accel": self.vm_accel,
            "vm_accel_summary": self.verdict.summary() if self.verdict else "libvirt unavailable",
            "checks": [asdict(c) for c in self.checks],
            "accel_probes": self.verdict.to_json() if self.verdict else None,
            "host": self.host.to_json(),
        }

    def table(self) -> str:
        h = self.host
        lines = [f"host {h.hostname}: {h.distribution}, kernel {h.kernel}",
                 f"  cpu {h.cpu_model}, {h.logical_cpus} logical cpus, "
                 f"{h.memory_bytes / 2**30:.1f} GiB; flags: {' '.join(h.cpu_flags) or 'none notable'} "
                 f"({h.cpu_flag_count} in all)",
                 f"  virtualised: {'yes' if h.virtualised else 'no'} (hypervisor: {h.hypervisor}; "
                 f"harness in a container: {h.container})", ""]
        rows = [("CHECK", "STATUS", "VERSION", "DETAIL")]
        rows += [(c.name, "ok" if c.ok else "NO", c.version, c.detail) for c in self.checks]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
        fixes = [f"  {c.name}: {c.fix}" for c in self.checks if not c.ok and c.fix]
        if fixes:
            lines += ["", "to fix:", *fixes]
        lines += ["", f"VM accelerator: {self.vm_accel or 'none'} — "
                  f"{self.verdict.summary() if self.verdict else 'libvirt unavailable'}"]
        lines.append("doctor: " + ("this host can run all three platforms" if self.ok
                                   else "this host cannot run all three platforms"))
        return "\n".join(lines)


def check_native() -> Check:
    if os.geteuid() != 0:
        return Check("native", False, "chroot", "chroot needs root", "run bench as root")
    if shutil.which("chroot") is None:
        return Check("native", False, "chroot", "chroot not found", "install coreutils")
    return Check("native", True, "chroot", "the image's rootfs directory, entered with chroot")


def check_docker() -> Check:
    try:
        client = engines.docker_client(timeout=10)
        info = client.info()
        version = client.version()
    except BenchError as e:
        return Check("docker", False, "-", str(e).removeprefix("docker: "),
                     "start dockerd (`make run` does), or install docker.io")
    security = ", ".join(opt.split(",")[0].removeprefix("name=") for opt in info.get("SecurityOptions", []))
    return Check("docker", True, f"{version.get('Version', '?')} (API {version.get('ApiVersion', '?')})",
                 f"storage {info.get('Driver', '?')}, cgroup v{info.get('CgroupVersion', '?')} "
                 f"({info.get('CgroupDriver', '?')}), security: {security or 'none'}")


def check_libvirt() -> Check:
    try:
        conn = engines.libvirt_connection()
        lib, hv = conn.getLibVersion(), conn.getVersion()
        uri = conn.getURI()
        conn.close()
    except BenchError as e:
        return Check("libvirt", False, "-", str(e).removeprefix("libvirt: "),
                     "start virtlogd and libvirtd (`make run` does)")
    return Check("libvirt", True, _version(lib), f"{uri}, QEMU {_version(hv)}")


def accel_checks(verdict: accel.Verdict) -> list[Check]:
    kvm = [p for p in verdict.probes if p.accel == "kvm"]
    tcg = [p for p in verdict.probes if p.accel == "tcg"]
    checks = []
    if not verdict.kvm_present:
        checks.append(Check("kvm", False, "-", f"not present: {verdict.kvm_present_detail}",
                            "enable VT-x/AMD-V and load kvm_intel or kvm_amd; VMs use TCG meanwhile"))
    else:
        tried = "; ".join(f"cpu {p.cpu_mode}: {p.detail}" for p in kvm)
        usable = any(p.usable for p in kvm)
        checks.append(Check("kvm", usable, "present", f"{verdict.kvm_present_detail}; {tried}",
                            "" if usable else "KVM present but unusable; VMs will run under TCG "
                            "emulation (a nested or paravirtual hypervisor hides VT-x/AMD-V)"))
    if tcg:
        p = tcg[0]
        checks.append(Check("tcg", p.usable, "emulation", p.detail,
                            "" if p.usable else "check the kernel and initramfs (bench images build)"))
    else:
        checks.append(Check("tcg", True, "emulation", "not probed: KVM works"))
    return checks


def examine(progress: Progress, recheck: bool = False, kvm_deadline: float = 20.0) -> Report:
    checks = [check_native(), check_docker(), check_libvirt()]
    verdict = None
    if checks[2].ok:
        verdict = accel.examine(progress, recheck=recheck, kvm_deadline_s=kvm_deadline)
        checks += accel_checks(verdict)
    return Report(checks, verdict, facts.describe())


def _version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"
