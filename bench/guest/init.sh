#!/bin/busybox sh
# vmct-bench initramfs init: load the modules a virtio-blk ext4 root needs (listed in
# /etc/modules.order, dependencies first), mount the root read-write and switch_root into
# the guest launcher. Kernel arguments: bench.workload=NAME, or bench.probe=TOKEN to only
# prove the guest runs (doctor's accelerator check) and power off; bench.net=ADDR/LEN,HOST
# loads the virtio-net modules (/etc/modules.net), gives eth0 that address and tells the
# launcher where the host's servers are (BENCH_SERVER=HOST); bench.init=os hands over to the
# image's own init (systemd) instead of the launcher: the full-OS boot profile; bench.launcher=PATH:
# the launcher to switch into (a user's image has the harness's own, in the harness's directory).
echo "@@BENCH INIT"  # init's first line: where the host's clock ends the kernel's boot phase
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

power_off() { echo o > /proc/sysrq-trigger; sleep 60; }
fail() { echo "@@BENCH INIT-FAILED $*"; power_off; }

for module in $(cat /etc/modules.order); do
    insmod "/lib/modules/$module" || fail "insmod $module"
done

workload=""
probe=""
net=""
init=minimal
launcher=/usr/local/lib/bench/launcher
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        bench.workload=*) workload=${arg#bench.workload=} ;;
        bench.probe=*) probe=${arg#bench.probe=} ;;
        bench.net=*) net=${arg#bench.net=} ;;
        bench.init=*) init=${arg#bench.init=} ;;
        bench.launcher=*) launcher=${arg#bench.launcher=} ;;
    esac
done
if [ -n "$probe" ]; then
    echo "@@BENCH PROBE $probe"
    power_off
fi

if [ -n "$net" ]; then
    for module in $(cat /etc/modules.net); do
        insmod "/lib/modules/$module" || fail "insmod $module"
    done
    tries=0
    while [ ! -e /sys/class/net/eth0 ]; do
        tries=$((tries + 1))
        [ "$tries" -gt 1000 ] && fail "no eth0 after 10 s"
        sleep 0.01
    done
    ip link set lo up
    ip addr add "${net%,*}" dev eth0 || fail "cannot set eth0's address ${net%,*}"
    ip link set eth0 up || fail "cannot bring eth0 up"
    export BENCH_SERVER="${net#*,}"
fi

tries=0
while [ ! -b /dev/vda ]; do
    tries=$((tries + 1))
    [ "$tries" -gt 1000 ] && fail "no /dev/vda after 10 s"
    sleep 0.01
done
mount -t ext4 -o rw /dev/vda /newroot || fail "cannot mount /dev/vda"
dmesg -n 1  # keep kernel messages from interleaving with the launcher's lines
for fs in proc sys dev; do mount --move "/$fs" "/newroot/$fs"; done
[ "$init" = os ] && exec switch_root /newroot /sbin/init
[ "$init" = docker ] && exec switch_root /newroot /usr/local/lib/bench/engine-start "$workload"
exec switch_root /newroot "$launcher" --poweroff "$workload"
