#!/bin/sh
# vmct-bench vm-docker: the container host inside the VM. The initramfs switches root into
# this script (bench.init=docker); it mounts what dockerd needs, starts it (which starts its
# own containerd), and runs the image's launcher in a container, its output on the console, the
# console its input too (the host types "tree" there to release the launcher's tree probe).
# A user's image runs with the harness's directory bind-mounted read-only, as on the host.
# Each phase is a line with the guest's uptime, so the host can tell the engine's start from
# the container's.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
workload=$1
image=$(cat /usr/local/lib/bench/engine-image)
launcher=/usr/local/lib/bench/launcher
for arg in $(cat /proc/cmdline); do
    case "$arg" in bench.launcher=*) launcher=${arg#bench.launcher=} ;; esac
done
phase() { echo "@@BENCH PHASE $1 $(cut -d' ' -f1 /proc/uptime)"; }
fail() { echo "@@BENCH INIT-FAILED $*"; echo o > /proc/sysrq-trigger; sleep 60; }

mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /tmp || fail "cannot mount /run and /tmp"
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm || fail "cannot mount /dev/pts and /dev/shm"
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
modprobe overlay || fail "modprobe overlay"
phase engine_starting
dockerd --iptables=false --ip-masq=false --bridge=none >/var/log/dockerd.log 2>&1 &
tries=0
until docker version >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -gt 6000 ] && fail "dockerd not ready after 300 s: $(tail -1 /var/log/dockerd.log)"
    sleep 0.05
done
phase engine_ready
# A network workload's container shares the guest's network (eth0 on the run's network): the
# path to the host's servers is the VM's; dockerd inside runs no bridge and no NAT.
network=none
[ -n "${BENCH_SERVER:-}" ] && network=host
harness=""
[ -d /.vmct-bench ] && harness="--volume=/.vmct-bench:/.vmct-bench:ro"
# The launcher as root, as on the host: it drops to the spec's user itself.
cid=$(docker create --interactive --network "$network" --env "BENCH_SERVER=${BENCH_SERVER:-}" $harness \
      --user 0:0 --entrypoint "$launcher" "$image" --hold "$workload") || fail "docker create"
phase container_created
exec docker start --attach --interactive "$cid"
