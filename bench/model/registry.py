"""Every platform, declared once: what it is, which driver runs it and with which options, how
reports name it and its image, and what one trial of it costs beyond the workload.

A suite names registered platforms (`docker`, `vm-os`, ...) or a parameterised one:
`docker:RUNTIME` is Docker with any OCI runtime registered with the engine (`docker:crun`, or
`docker:kata-runtime` on a host with Kata installed); `vm:MACHINE` is the libvirt VM on another
machine model or firmware (`vm:q35`, `vm:uefi`, `vm:q35-uefi`). The order of REGISTERED is the order of
every table and chart column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from bench.errors import BenchError

# Which driver: container is Docker, vm is libvirt, qemu is QEMU run directly (no libvirt).
Kind = Literal["native", "container", "podman", "lxc", "vm", "qemu"]
RUNTIME_RE = re.compile(r"^docker:([A-Za-z0-9][A-Za-z0-9_.-]{0,62})$")
# The libvirt VM's options, as vm:OPTION[-OPTION...]: vm:q35, vm:uefi, vm:q35-uefi, vm:vmdk.
VM_OPTION_RE = re.compile(r"^vm:([a-z0-9]+(?:-[a-z0-9]+)*)$")
# Other hypervisors' disk formats, by qemu-img's name: the base converted, then booted.
DISK_FORMATS = {"vmdk": "VMware", "vhdx": "Hyper-V", "vdi": "VirtualBox", "raw": "a raw image"}
VM_OPTIONS = {"pc": ("machine", "pc"), "q35": ("machine", "q35"), "uefi": ("firmware", "ovmf"),
              **{f: ("disk_format", f) for f in DISK_FORMATS}}
VM_MODELS = ("vm:q35", "vm:uefi", "vm:q35-uefi", *(f"vm:{f}" for f in DISK_FORMATS))  # what doctor checks
FIRMWARES = {"seabios": "SeaBIOS", "ovmf": "UEFI (OVMF)", "qboot": "qboot"}
SANDBOX_RUNTIMES = ("runsc", "kata")  # gVisor's runsc (and runsc-hostnet), kata-runtime, kata-qemu, ...
CONTAINER_FORMAT = "Docker image (docker import of rootfs.tar): needs a container engine on a Linux kernel"


@dataclass(frozen=True)
class Platform:
    name: str
    kind: Kind
    summary: str  # what it is, in a line (doctor, help)
    image_name: str  # how the findings name what it runs from
    image_format: str  # the report's "Image format" row: the artifact and what it needs
    artifact: str  # the manifest's artifact (or "app_images"): what the report's hash rows show
    build_steps: tuple[str, ...]  # the image build's timed steps that produce its artifact
    # Set-up, start and teardown of one trial beyond the workload's own run time, seen on a
    # 2-core host (VMs: with working KVM, and under TCG emulation).
    overhead_s: float
    overhead_tcg_s: float = 0.0
    shown: str = ""  # how reports name it where the name alone is ambiguous (vm → vm-minimal)
    runtime: str = ""  # container: the engine's OCI runtime; "" is the engine's default (runc)
    network_runtime: str = ""  # container: the runtime for a workload with a network, when not `runtime`
    volume: bool = False  # container: writes go to a fresh volume at /var/tmp
    app_image: bool = False  # container: each workload from its application-only image
    host_network: bool = False  # container: a network workload in the host's network namespace (no NAT)
    boot_profile: str = ""  # vm: minimal (the harness's init), os (the image's systemd) or docker (an engine)
    machine: str = ""  # vm: QEMU's machine model (pc, q35, microvm)
    firmware: str = ""  # vm: seabios, ovmf (UEFI) or qboot
    disk_format: str = "qcow2"  # vm: the base disk's format (another one is converted from the qcow2 base)
    # Why it cannot run a workload from a user's image ("" when it can).
    no_user_image: str = ""

    @property
    def is_vm(self) -> bool:
        """Runs on a hypervisor whose accelerator (kvm, tcg) qualifies every number it gives."""
        return self.kind in ("vm", "qemu")

    @property
    def sandboxed(self) -> bool:
        """A container whose runtime puts a kernel of its own between it and the host's (gVisor's
        Sentry, Kata's VM): findings judge it apart from plain-runtime containers."""
        return self.kind == "container" and self.runtime.startswith(SANDBOX_RUNTIMES)

    @property
    def family(self) -> str:
        """How findings group platforms: native, container (a plain runtime), sandboxed, vm."""
        if self.kind in ("podman", "lxc"):
            return "container"
        return "sandboxed" if self.sandboxed else self.kind

    def label(self, accel: str = "") -> str:
        """As reports show it: vm-minimal/tcg, vm-os/kvm, docker."""
        shown = self.shown or self.name
        return f"{shown}/{accel}" if self.is_vm and accel else shown

    def runtimes(self) -> tuple[str, ...]:
        """The engine runtimes this platform may ask for."""
        return tuple(r for r in (self.runtime, self.network_runtime) if r)

    def runtime_for(self, network: bool) -> str:
        return self.network_runtime if network and self.network_runtime else self.runtime

    def overhead(self, accel: str) -> float:
        return self.overhead_tcg_s if self.is_vm and accel == "tcg" else self.overhead_s


REGISTERED: tuple[Platform, ...] = (
    Platform("native", "native", "a chroot of the rootfs in a memory-limited cgroup", "native chroot, full OS",
             "directory tree unpacked from rootfs.tar, entered with chroot: needs root and a kernel compatible "
             "with its user space", "rootfs_tar", ("bootstrap", "unpack"), 0.2),
    Platform("docker", "container", "a Docker container (runc) of the full-OS image, writing into its "
             "copy-on-write layer", "container, full OS", CONTAINER_FORMAT, "container_image",
             ("bootstrap", "docker_import"), 0.7),
    Platform("docker-volume", "container", "docker, writing into a volume of its own at /var/tmp",
             "container, full OS, with a volume", CONTAINER_FORMAT, "container_image",
             ("bootstrap", "docker_import"), 0.9, volume=True),
    Platform("docker-app", "container", "docker, each workload from its application-only image",
             "container, application only", "Docker image per workload holding only its programs and their "
             "libraries (FROM scratch style): needs a container engine on a Linux kernel", "app_images",
             ("bootstrap", "app_images"), 0.7, app_image=True,
             no_user_image="a user's image is its own application image: the docker platform runs it as it is"),
    Platform("docker-hostnet", "container", "docker, a network workload in the host's network namespace "
             "(--network host): no bridge, no NAT", "container, full OS, host network", CONTAINER_FORMAT,
             "container_image", ("bootstrap", "docker_import"), 0.7, host_network=True),
    Platform("gvisor", "container", "docker run by gVisor's runsc: a user-space kernel (the Sentry, on ptrace) "
             "between the workload and the host kernel", "container, full OS, on gVisor", CONTAINER_FORMAT,
             "container_image", ("bootstrap", "docker_import"), 1.0, runtime="runsc", network_runtime="runsc-hostnet"),
    Platform("podman", "podman", "a rootful Podman container (no daemon: conmon per container) of the same image",
             "Podman container, full OS", "OCI image (podman import of rootfs.tar): needs Podman on a Linux kernel, "
             "no daemon", "rootfs_tar", ("bootstrap",), 1.0),
    Platform("lxc", "lxc", "an LXC system container (lxc-start, LXC's common.conf) of the rootfs directory, under an "
             "overlay of its own", "LXC system container, full OS", "directory tree unpacked from rootfs.tar, under an "
             "overlay: needs LXC on a Linux kernel", "rootfs_tar", ("bootstrap", "unpack"), 0.5),
    Platform("vm", "vm", "a libvirt/QEMU VM booting the harness's minimal init", "VM: kernel + initramfs + full-OS disk",
             "qcow2 disk + kernel + initramfs: needs QEMU (libvirt here); KVM for full speed", "vm_disk",
             ("bootstrap", "vm_disk"), 3.0, 9.0, shown="vm-minimal", boot_profile="minimal", machine="pc",
             firmware="seabios"),
    Platform("vm-docker", "vm", "a container inside the VM: the same VM runs a Docker engine, and in it a container of "
             "the same image as docker", "container in a VM", "qcow2 disk (Debian with docker.io, the container image "
             "preloaded) + kernel + initramfs: needs QEMU; KVM for full speed", "vm_docker_disk",
             ("bootstrap", "docker_import", "vm_docker_disk"),
             5.0, 30.0, boot_profile="docker", machine="pc", firmware="seabios"),
    Platform("vm-os", "vm", "the same VM booting the image's own systemd", "VM booting the full OS's own init",
             "qcow2 disk + kernel + initramfs: needs QEMU (libvirt here); KVM for full speed", "vm_disk",
             ("bootstrap", "vm_disk"), 5.0, 18.0, boot_profile="os", machine="pc", firmware="seabios",
             no_user_image="it boots the image's own systemd, which a user's image need not have"),
    Platform("vm-qemu", "qemu", "the vm platform's PC machine run by QEMU directly, without libvirt",
             "VM without libvirt: kernel + initramfs + full-OS disk", "qcow2 disk + kernel + initramfs: needs QEMU; "
             "KVM for full speed", "vm_disk", ("bootstrap", "vm_disk"), 2.5, 8.0, boot_profile="minimal",
             machine="pc", firmware="seabios"),
    Platform("vm-micro", "qemu", "the same kernel, initramfs and disk on QEMU's microvm machine (qboot firmware, "
             "virtio-mmio, no PCI), QEMU run directly as Firecracker runs its VMM", "optimised VM (microvm)",
             "qcow2 disk + kernel + initramfs: needs QEMU with the microvm machine; KVM for full speed", "vm_disk",
             ("bootstrap", "vm_disk"), 2.0, 6.0, boot_profile="minimal", machine="microvm", firmware="qboot"),
)
BY_NAME = {p.name: p for p in REGISTERED}
NAMES = tuple(BY_NAME)
FORMS = ", ".join(NAMES) + ", docker:RUNTIME or vm:OPTIONS (vm:q35, vm:uefi, vm:vmdk, ...)"


def get(name: str) -> Platform:
    """A registered platform, or `docker:RUNTIME`; anything else is a one-line error."""
    if name in BY_NAME:
        return BY_NAME[name]
    if match := RUNTIME_RE.match(name):
        runtime = match.group(1)
        return replace(BY_NAME["docker"], name=name, runtime=runtime,
                       summary=f"a Docker container of the full-OS image, run by the OCI runtime {runtime}",
                       image_name=f"container, full OS, OCI runtime {runtime}")
    if match := VM_OPTION_RE.match(name):
        return _vm_variant(name, match.group(1).split("-"))
    if name.startswith("vm:"):
        raise BenchError(f"unknown platform {name!r}: a VM's options are {', '.join(VM_OPTIONS)}, joined by '-'")
    if name.startswith("docker:"):
        raise BenchError(f"unknown platform {name!r}: a runtime's name is letters, digits, '_', '.' or '-'")
    raise BenchError(f"unknown platform {name!r} (known: {FORMS})")


def _vm_variant(name: str, options: list[str]) -> Platform:
    chosen: dict[str, str] = {}
    for option in options:
        if option not in VM_OPTIONS:
            raise BenchError(f"unknown platform {name!r}: {option!r} is no VM option ({', '.join(VM_OPTIONS)})")
        field, value = VM_OPTIONS[option]
        if field in chosen:
            raise BenchError(f"unknown platform {name!r}: two {field.replace('_', ' ')} options")
        chosen[field] = value
    vm = BY_NAME["vm"]
    variant = replace(vm, name=name, shown="", **chosen)
    machine = f"{variant.machine} with {FIRMWARES[variant.firmware]}"
    disk = (f", its disk converted to {variant.disk_format} ({DISK_FORMATS[variant.disk_format]})"
            if variant.disk_format in DISK_FORMATS else "")
    return replace(variant, summary=f"the vm platform's disk, kernel and initramfs on QEMU's {machine} (libvirt){disk}",
                   image_name=f"VM on {machine}{disk}: kernel + initramfs + full-OS disk",
                   image_format=(f"{variant.disk_format} disk, converted from the qcow2 base by qemu-img, + kernel + "
                                 f"initramfs: needs a hypervisor that reads {variant.disk_format} ({DISK_FORMATS[variant.disk_format]}, "
                                 "or QEMU)") if disk else vm.image_format)


def known(name: str) -> Platform | None:
    """The platform a recorded name stands for; None for one this version does not know."""
    try:
        return get(name)
    except BenchError:
        return None


def order(name: str) -> float:
    """Where a platform's column goes: registered ones in their order, docker:RUNTIME after
    the Docker variants, anything unknown last."""
    if name in BY_NAME:
        return float(NAMES.index(name))
    if RUNTIME_RE.match(name):
        return NAMES.index("docker-app") + 0.5
    if VM_OPTION_RE.match(name):
        return NAMES.index("vm") + 0.5
    return float(len(NAMES))


def family(name: str) -> str:
    platform = known(name)
    return platform.family if platform else "unknown"


def is_vm(name: str) -> bool:
    platform = known(name)
    return platform is not None and platform.is_vm


def label(name: str, accel: str = "") -> str:
    platform = known(name)
    return platform.label(accel) if platform else name


def by_label(shown: str) -> str:
    """The platform a report label (without its accelerator) stands for."""
    return next((p.name for p in REGISTERED if p.label() == shown), shown)


def slug(name: str) -> str:
    """The name as it may appear in an instance's name (Docker allows no ':')."""
    return name.replace(":", "-")
