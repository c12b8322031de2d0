#!/bin/sh
# Prepare this host for vmct-bench: system packages, the three daemons, and .venv.
# Idempotent: installs only what is missing and starts only what is not running.
# --test: also what only the tests need: PostgreSQL's server binaries (the history tests) and
# Chromium (the report is checked in a real headless browser).
set -eu

cd "$(dirname "$0")/.."
# A user other than root often has no sbin in PATH: dockerd and libvirtd live there.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
LOG_DIR=/var/log/vmct-bench
PYTHON=${PYTHON:-python3}
PACKAGES="qemu-system-x86 qemu-utils ovmf libvirt-daemon-system libvirt-dev pkg-config mmdebstrap
busybox-static kmod cpio e2fsprogs gcc libc6-dev python3-dev python3-venv iperf3 sockperf crun runsc
podman conmon netavark lxc redis-tools wrk curl postgresql-client-15 musl-tools"
# gcc and libc6-dev: libvirt-python's build and the exposure probe (a static program in the
# rootfs). iperf3 and sockperf: the host side of the net workload (its servers). The host's clients of
# the server workloads: redis-tools (redis-cli, redis-benchmark), wrk and curl (nginx),
# postgresql-client-15 (pgbench, pg_isready). crun and runsc (gVisor):
# OCI runtimes registered with the Docker engine (platforms docker:crun and gvisor). podman,
# conmon and netavark (its network backend): platform podman, configured on its command line.
# lxc: platform lxc, configured per instance in the harness's own directory. musl-tools
# (musl-gcc): the example image whose only C library is musl (examples/images/build.sh).
TEST_PACKAGES="postgresql chromium"
WITH_TESTS=false
case "${1:-}" in
  --test) WITH_TESTS=true ;;
  "") ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- distribution ----------------------------------------------------------
OS_RELEASE=${OS_RELEASE:-/etc/os-release}
os_like=$( (. "$OS_RELEASE" 2>/dev/null && echo "$ID ${ID_LIKE:-}") || true)
case " $os_like " in
  *" debian "*|*" ubuntu "*) ;;
  *)
    die "this set-up knows Debian and Ubuntu only (found: ${os_like:-unknown}). Install by hand:
  Docker engine (dockerd), QEMU for x86_64 (qemu-system-x86_64, qemu-img), the libvirt daemon
  with its development headers, mmdebstrap, a static busybox, kmod (depmod), cpio, e2fsprogs
  (mkfs.ext4), pkg-config, a C compiler and Python >= 3.11 with its headers and venv; then
  start dockerd, virtlogd and libvirtd and run: $PYTHON -m venv .venv && .venv/bin/pip install -e '.[test]'
  (the tests also need PostgreSQL's server programs, initdb and pg_ctl, and chromium)" ;;
esac

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else
  command -v sudo >/dev/null 2>&1 || die "run as root, or install sudo"
  SUDO="sudo"
fi

# --- system packages -------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=""
wanted=$PACKAGES
$WITH_TESTS && wanted="$wanted $TEST_PACKAGES"
for p in $wanted; do installed "$p" || missing="$missing $p"; done
# Any Docker engine will do (docker-ce on lab machines); docker.io only when none is there.
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
if [ -n "$missing" ]; then
  case " $missing " in
    *" postgresql "*)
      # The tests run their own server in a temporary directory; the package would also create
      # and (with systemd) start a system cluster on port 5432 that nothing uses. Not that one.
      $SUDO mkdir -p /etc/postgresql-common/createcluster.d
      echo "create_main_cluster = false  # vmct-bench: its tests make their own clusters" \
        | $SUDO tee /etc/postgresql-common/createcluster.d/vmct-bench.conf >/dev/null ;;
  esac
  say "installing:$missing"
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
else
  say "system packages present"
fi

# --- /dev/kvm for QEMU's user -----------------------------------------------
# udev normally makes /dev/kvm root:kvm 0660. Without udev it stays 0600 and libvirt, which
# checks access as the qemu user, discards its capability cache on every call (40 s each).
if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
  say "giving group kvm access to /dev/kvm (as udev's rule does)"
  $SUDO chgrp kvm /dev/kvm && $SUDO chmod 0660 /dev/kvm
fi

# --- cgroups: a hybrid layout that crun accepts -------------------------------
# On a hybrid layout (v1 controllers, v2 at /sys/fs/cgroup/unified) crun refuses to start a
# container while the v2 hierarchy holds any controller ("cgroups in hybrid mode not
# supported"). A controller that no v1 hierarchy has mounted stays bound to v2 (hugetlb, on
# some hosts); mount it in v1, as systemd's hybrid mode does. Pure v1 or v2 hosts: nothing.
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
  for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    say "mounting cgroup controller $c in v1, off the v2 hierarchy (for crun)"
    { $SUDO mkdir -p "/sys/fs/cgroup/$c" && $SUDO mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"; } \
      || say "warning: could not; platform docker:crun will fail on this host"
  done
fi

# --- daemons (there may be no systemd) --------------------------------------
$SUDO mkdir -p "$LOG_DIR"
have_systemd() { [ -d /run/systemd/system ]; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  t=$1; what=$2; shift 2
  while ! "$@" >/dev/null 2>&1; do
    t=$((t - 1)); [ "$t" -gt 0 ] || die "$what did not come up; see $LOG_DIR"
    sleep 1
  done
}

# The OCI runtimes, merged into daemon.json (what is there stays), before dockerd starts or
# reloads; the module uses the standard library only, as there is no .venv yet.
$SUDO mkdir -p /etc/docker
runtimes=$($SUDO "$PYTHON" -m bench.host.docker_runtimes /etc/docker/daemon.json) \
  || die "could not register the OCI runtimes in /etc/docker/daemon.json (see above)"
[ "$runtimes" = changed ] && say "registered crun and runsc in /etc/docker/daemon.json"

docker_up() { $SUDO timeout 5 docker version >/dev/null 2>&1; }
runtimes_loaded() {  # every runtime daemon.json names is one the engine has
  want=$($SUDO "$PYTHON" -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1])).get("runtimes", {})))' \
         /etc/docker/daemon.json 2>/dev/null || true)
  have=" $($SUDO docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>/dev/null) "
  for r in $want; do case "$have" in *" $r "*) ;; *) return 1 ;; esac; done
}
if docker_up; then
  say "dockerd running"
  if ! runtimes_loaded; then
    say "reloading dockerd for its new runtimes"
    if have_systemd; then $SUDO systemctl reload docker; else $SUDO kill -HUP "$(cat /var/run/docker.pid)"; fi
    wait_for 30 "dockerd's reload" runtimes_loaded
  fi
else
  if have_systemd; then $SUDO systemctl start docker; else
    pidfile=/var/run/docker.pid
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      $SUDO rm -f "$pidfile"  # stale: its dockerd is dead and would block a new one
    fi
    say "starting dockerd (log: $LOG_DIR/dockerd.log)"
    $SUDO sh -c "setsid dockerd >>$LOG_DIR/dockerd.log 2>&1 < /dev/null &"
  fi
  wait_for 60 dockerd docker_up
fi

# libvirt's network driver keeps per-bridge files here even when no dnsmasq runs; systemd's
# tmpfiles would make the directory, and there is no systemd here.
$SUDO mkdir -p /var/lib/libvirt/dnsmasq
libvirt_up() { $SUDO timeout 5 virsh -c qemu:///system version >/dev/null 2>&1; }
if libvirt_up; then say "libvirtd running"; else
  if have_systemd; then $SUDO systemctl start virtlogd libvirtd; else
    pgrep -x virtlogd >/dev/null || { say "starting virtlogd"; $SUDO virtlogd -d; }
    pgrep -x libvirtd >/dev/null || { say "starting libvirtd"; $SUDO libvirtd -d; }
  fi
  wait_for 60 libvirtd libvirt_up
fi

# --- Python environment ----------------------------------------------------
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "$PYTHON is older than 3.11 (set PYTHON=python3.11 or install it)"
[ -x .venv/bin/python ] || { say "creating .venv"; "$PYTHON" -m venv .venv; }
stamp=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ]; then
  say "installing vmct-bench into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
  echo "$stamp" > .venv/.installed
else
  say ".venv up to date"
fi
