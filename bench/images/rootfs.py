"""The one root filesystem: Debian minbase from the host's apt sources (mmdebstrap is given
no mirror), the workloads' packages, the guest launcher and an unprivileged user; and systemd
as the image's own init, which only the full-OS VM profile (vm-os) boots.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from bench import config
from bench.definitions.workload import Workload
from bench.errors import BenchError
from bench.host.proc import run
from bench.guest import exposure, static
from bench.guest.spec import SPEC
from bench.images.initramfs import guest_script

SUITE = "bookworm"
VARIANT = "minbase"
RECIPE = 7  # bump when how the root filesystem is made changes
# The image's own init, for the full-OS boot profile. No udev: nothing renames eth0.
BASE_PACKAGES = ("systemd-sysv",)
SYSTEMD_DIR = "etc/systemd/system"
LAUNCHER_UNIT = "bench-launcher.service"
# The serial console is the harness's: no login prompt on it. systemd-firstboot would ask
# questions on it on a first boot (every vm-os boot is one).
# A server workload's package brings its own unit: the harness starts that server itself.
MASKED_UNITS = ("serial-getty@.service", "getty@.service", "getty-static.service", "systemd-firstboot.service",
                "redis-server.service", "nginx.service", "postgresql.service", "postgresql@.service")
# PostgreSQL's package would initdb a system cluster at install (tens of MiB in every image);
# the postgres workload initialises its own at start. Written before any package is installed.
NO_SYSTEM_CLUSTER = ('--essential-hook=mkdir -p "$1"/etc/postgresql-common/createcluster.d && echo '
                     '"create_main_cluster = false" > "$1"/etc/postgresql-common/createcluster.d/vmct-bench.conf')
# With SOURCE_DATE_EPOCH mmdebstrap makes the same tarball from the same inputs and mirror
# content (file times clamped, logs and caches dropped), so the image tag stays put.
SOURCE_DATE_EPOCH = "1700000000"


def inputs(workloads: list[Workload], arch: str) -> dict[str, object]:
    """Everything that decides the root filesystem's content: its cache key."""
    return {
        "recipe": RECIPE, "suite": SUITE, "variant": VARIANT, "arch": arch,
        "packages": packages(workloads),
        "launcher": static.source(static.IMAGE_PROGRAMS["launcher"]),
        "exposure probe": [exposure.source(), sorted(exposure.NOT_PROBED)],
        "os": [guest_script("os-start.sh"), guest_script(LAUNCHER_UNIT), MASKED_UNITS],
        "workloads": sorted((w.guest_spec() for w in workloads), key=lambda s: str(s["name"])),
        "specs": {w.name: w.launcher_spec().text(w.name) for w in workloads},
        "user": [config.GUEST_USER, config.GUEST_UID],
    }


def packages(workloads: list[Workload]) -> list[str]:
    return sorted({*BASE_PACKAGES, *(p for w in workloads for p in w.packages)})


def stage_guest_files(stage: Path, workloads: list[Workload]) -> None:
    """Lay out the static launcher and one spec per workload, to be synced into the rootfs."""
    lib = stage / config.GUEST_LIB.lstrip("/")
    lib.mkdir(parents=True)
    static.build(static.IMAGE_PROGRAMS["launcher"], lib / "launcher", stage.parent / "launcher-build")
    (lib / "os-start").write_text(guest_script("os-start.sh"))
    os.chmod(lib / "os-start", 0o755)
    units = stage / SYSTEMD_DIR
    (units / "multi-user.target.wants").mkdir(parents=True)
    (units / LAUNCHER_UNIT).write_text(guest_script(LAUNCHER_UNIT))
    os.symlink(f"/{SYSTEMD_DIR}/{LAUNCHER_UNIT}", units / "multi-user.target.wants" / LAUNCHER_UNIT)
    for unit in MASKED_UNITS:
        os.symlink("/dev/null", units / unit)
    exposure.build(lib / exposure.GUEST_NAME, stage.parent / "exposure-build")
    for w in workloads:
        (lib / "workloads" / w.name).mkdir(parents=True)
        (lib / "workloads" / w.name / SPEC).write_text(w.launcher_spec().text(f"workload {w.name}"))


def bootstrap(out_tar: Path, workloads: list[Workload], work: Path) -> None:
    stage = work / "guest-files"
    stage_guest_files(stage, workloads)
    include = packages(workloads)
    cmd = ["mmdebstrap", f"--variant={VARIANT}", "--mode=root", "--format=tar",
           f"--customize-hook=sync-in {shlex.quote(str(stage))} /",
           # The host's resolv.conf and hostname would make the result differ between hosts;
           # instances have no network, and Docker mounts its own anyway.
           '--customize-hook=rm -f "$1"/etc/resolv.conf',
           '--customize-hook=echo vmct-bench > "$1"/etc/hostname',
           # The launcher's specs name the user by number: its group gets the same number.
           f'--customize-hook=chroot "$1" groupadd --system --gid {config.GUEST_UID} {config.GUEST_USER}',
           f'--customize-hook=chroot "$1" useradd --system --uid {config.GUEST_UID} --gid {config.GUEST_UID}'
           f" --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin {config.GUEST_USER}"]
    if any(p.startswith("postgresql") for p in include):
        cmd.append(NO_SYSTEM_CLUSTER)
    if include:
        cmd.append(f"--include={','.join(include)}")
    cmd += [SUITE, str(out_tar)]
    # mmdebstrap's own temp directory goes into our build directory: a full disk shows
    # up here, and nothing is left in /tmp when the build fails.
    env = dict(os.environ, TMPDIR=str(work), SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
    log = work.parent / "mmdebstrap.log"
    try:
        run(cmd, f"rootfs in {work.parent.parent}", env=env, log=log)
    except BenchError as e:
        raise _explain(e, log.read_text(errors="replace") if log.exists() else "", workloads) from None


def _explain(error: BenchError, log: str, workloads: list[Workload]) -> BenchError:
    """Name the workload that asked for a package Debian does not have."""
    match = re.search(r"Unable to locate package (\S+)", log) or \
        re.search(r"Package '?([^'\s]+)'? has no installation candidate", log)
    if match:
        package = match.group(1)
        owners = [w.name for w in workloads if package in w.packages]
        by = f" (asked for by workload {', '.join(owners)})" if owners else ""
        return BenchError(f"rootfs: Debian package {package!r} does not exist in {SUITE}{by}")
    return error


def installed_packages(rootfs: Path) -> dict[str, str]:
    """Package → version, read from the rootfs's dpkg database."""
    versions: dict[str, str] = {}
    for stanza in (rootfs / "var/lib/dpkg/status").read_text().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            versions[fields["Package"]] = fields.get("Version", "")
    return dict(sorted(versions.items()))


def extract(tar: Path, directory: Path) -> None:
    directory.mkdir()
    run(["tar", "--numeric-owner", "-xpf", tar, "-C", directory], "rootfs: unpacking for chroot")
