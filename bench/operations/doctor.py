"""`bench doctor`: what this host can run, each platform with its version, or why not and
the fix; the VM accelerator it chose; and the host's provenance.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field

import bench
from bench.errors import BenchError
from bench.guest import qemu
from bench.host import engines, facts, noise as noise_sources
from bench.images import kernel
from bench.model import registry
from bench.model.resources import allot
from bench.operations import accel
from bench.platforms.container import (BRIDGE_FIX, RUNTIME_FIX, default_bridge, default_bridge_fault, engine_info,
                                       engine_runtimes, missing_runtimes)
from bench.progress import Progress


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
    platforms: list[Check]  # every registered platform, and docker:RUNTIME for each runtime the engine has
    noise: list[noise_sources.NoiseSource] = field(default_factory=list)  # for the instance CPUs
    instance_cpus: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """Native, Docker and at least one VM accelerator work, on an architecture the images are built for."""
        by_name = {c.name: c.ok for c in self.checks}
        return by_name["native"] and by_name["docker"] and by_name.get("architecture", True) and \
            bool(self.verdict and self.verdict.chosen)

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
            "platforms": [asdict(c) for c in self.platforms],
            "accel_probes": self.verdict.to_json() if self.verdict else None,
            "host": self.host.to_json(),
            "noise": {"instance_cpus": list(self.instance_cpus), "sources": [n.to_json() for n in self.noise]},
        }

    def table(self) -> str:
        h = self.host
        lines = [f"host {h.hostname}: {h.distribution}, kernel {h.kernel}",
                 f"  cpu {h.cpu_model}, {h.logical_cpus} logical cpus, "
                 f"{h.memory_bytes / 2**30:.1f} GiB; flags: {' '.join(h.cpu_flags) or 'none notable'} "
                 f"({h.cpu_flag_count} in all)",
                 f"  virtualised: {'yes' if h.virtualised else 'no'} (hypervisor: {h.hypervisor}; "
                 f"harness in a container: {h.container})", ""]
        lines += _rows("CHECK", self.checks) + [""] + _rows("PLATFORM", self.platforms)
        fixes = [f"  {c.name}: {c.fix}" for c in self.checks + self.platforms if not c.ok and c.fix]
        if fixes:
            lines += ["", "to fix:", *fixes]
        if self.noise:
            lines += ["", f"noise sources for the instance CPU(s) {','.join(map(str, self.instance_cpus))}:"]
            lines += [f"  {n.name:<24}{n.status.upper() if n.status == noise_sources.NOISY else n.status:<7}{n.state}"
                      + (f"\n  {'':<31}{n.effect}; fix: {n.fix}" if n.status == noise_sources.NOISY else "")
                      for n in self.noise]
        lines += ["", f"VM accelerator: {self.vm_accel or 'none'} — "
                  f"{self.verdict.summary() if self.verdict else 'libvirt unavailable'}"]
        lines.append("doctor: " + ("this host can run all three platforms" if self.ok
                                   else "this host cannot run all three platforms"))
        return "\n".join(lines)


def _rows(heading: str, checks: list[Check]) -> list[str]:
    rows = [(heading, "STATUS", "VERSION", "DETAIL")]
    rows += [(c.name, "ok" if c.ok else "NO", c.version, c.detail) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3] for row in rows]


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


def check_docker_bridge() -> Check:
    """The engine's default bridge reaches the host: Docker platforms' network workloads need it."""
    try:
        client = engines.docker_client(timeout=10)
        if fault := default_bridge_fault(client):
            return Check("docker bridge", False, "-", f"{fault}: network workloads fail on Docker platforms", BRIDGE_FIX)
        path = default_bridge(client)
    except BenchError as e:
        return Check("docker bridge", False, "-", str(e).removeprefix("docker: "), "start dockerd (`make run` does)")
    return Check("docker bridge", True, "-", path.description)


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


def platform_checks(native: Check, docker_check: Check, libvirt: Check, verdict: accel.Verdict | None,
                    runtimes: dict[str, str]) -> list[Check]:
    """Each registered platform, then docker:RUNTIME for every other runtime the engine has
    (`runtimes`: name → version): available or not, and why, and the fix."""
    extra = [name for name in runtimes if name not in ENGINE_DEFAULT_RUNTIMES
             and not any(name in p.runtimes() for p in registry.REGISTERED)]
    found = []
    listed = [*registry.REGISTERED, *(registry.get(f"docker:{name}") for name in extra),
              *(registry.get(name) for name in registry.VM_MODELS)]
    for platform in listed:
        if platform.kind == "native":
            found.append(Check(platform.name, native.ok, native.version, platform.summary if native.ok
                               else native.detail, native.fix))
        elif platform.kind == "container":
            found.append(_container_check(platform, docker_check, runtimes))
        elif platform.kind in ("podman", "lxc"):
            found.append(_tool_check(platform))
        elif platform.boot_profile == "docker" and not docker_check.ok:  # its disk holds the host's image
            found.append(Check(platform.name, False, "-", f"docker: {docker_check.detail}", docker_check.fix))
        elif reason := qemu.unsupported(platform.machine, platform.firmware, platform.disk_format):
            found.append(Check(platform.name, False, "-", reason, "make run installs QEMU and its firmware "
                               "(qemu-system-x86, ovmf)"))
        elif verdict is None or verdict.chosen is None:
            found.append(Check(platform.name, False, "-", libvirt.detail if not libvirt.ok
                               else "no VM accelerator works here", libvirt.fix or "see the kvm and tcg checks"))
        else:
            found.append(Check(platform.name, True, f"QEMU {libvirt.detail.rsplit('QEMU ', 1)[-1]}",
                               f"{platform.summary}, under {verdict.chosen.accel}"))
    return found


# What every engine has: runc under its own and containerd's names.
ENGINE_DEFAULT_RUNTIMES = ("runc", "io.containerd.runc.v2", "io.containerd.runtime.v1.linux")


def _container_check(platform: registry.Platform, docker_check: Check, runtimes: dict[str, str]) -> Check:
    if not docker_check.ok:
        return Check(platform.name, False, "-", f"docker: {docker_check.detail}", docker_check.fix)
    if not platform.runtime:
        return Check(platform.name, True, f"docker {docker_check.version.split()[0]}, runc {runtimes.get('runc', '?')}",
                     platform.summary)
    if missing := missing_runtimes(platform, runtimes):
        return Check(platform.name, False, "-", f"the Docker engine has no runtime {missing[0]!r}",
                     f"install it and {RUNTIME_FIX}; `make run` does this for the runtimes it ships")
    return Check(platform.name, True, f"{platform.runtime} {runtimes[platform.runtime]}", platform.summary)


def _tool_check(platform: registry.Platform) -> Check:
    """A platform run by a command-line tool with no daemon (Podman, LXC): is it installed."""
    from bench.platforms import lxc, podman

    tool, version = {"podman": ("podman", podman.version), "lxc": ("lxc", lxc.version)}[platform.kind]
    try:
        return Check(platform.name, True, f"{tool} {version()}", platform.summary)
    except BenchError as e:
        return Check(platform.name, False, "-", str(e), f"install Debian's {tool} (`make run` does)")


def runtime_versions() -> dict[str, str]:
    """The runtimes registered with the Docker engine → each one's version (its binary's first
    line of --version); empty when the engine is down."""
    try:
        runtimes, _ = engine_runtimes(engine_info(engines.docker_client(timeout=10)))
    except BenchError:
        return {}
    return {name: engines.runtime_version(path) for name, path in runtimes.items()}


def check_arch() -> Check:
    arch = kernel.host_arch()
    try:
        kernel.require_arch(arch)
    except BenchError as e:
        return Check("architecture", False, arch, str(e), "run the harness on an amd64 (x86_64) host")
    return Check("architecture", True, arch, "the images are built for this host's architecture")


def examine(progress: Progress, recheck: bool = False, kvm_deadline: float = 20.0) -> Report:
    checks = [check_native(), check_docker(), check_libvirt(), check_arch()]
    verdict = None
    if checks[2].ok:
        verdict = accel.examine(progress, recheck=recheck, kvm_deadline_s=kvm_deadline)
        checks += accel_checks(verdict)
    if checks[1].ok:
        checks.append(check_docker_bridge())
    platforms = platform_checks(checks[0], checks[1], checks[2], verdict, runtime_versions())
    cpus = allot(1, 0).cpuset  # the default suite's
    return Report(checks, verdict, facts.describe(), platforms, noise_sources.examine(cpus), cpus)


def _version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"
