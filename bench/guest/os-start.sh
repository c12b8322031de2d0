#!/bin/sh
# vmct-bench full-OS boot profile (vm-os): bench-launcher.service runs this once systemd has
# reached multi-user.target. systemd passes no kernel arguments on to a service, so the
# workload (bench.workload=NAME) and the host's address (bench.net=ADDR/LEN,HOST, already set
# on eth0 by the harness's initramfs) are read from /proc/cmdline here.
workload=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        bench.workload=*) workload=${arg#bench.workload=} ;;
        bench.net=*) BENCH_SERVER=${arg#*,}; export BENCH_SERVER ;;
    esac
done
exec /usr/local/lib/bench/launcher --poweroff "$workload"
