#!/bin/sh
# vmct-bench guest launcher: the same program, from the same root filesystem, on all three
# platforms. It prints "@@BENCH READY <workload>", runs the workload as the unprivileged
# bench user (one marked as-root, the exposure probe, as root), echoes the output, then prints
# one line "@@BENCH RESULT <json>" that carries the exit code, guest-side timestamps and the
# output (base64). The host reads the score from that output. With --poweroff (PID 1 of a VM)
# it powers the machine off at the end; with --hold it stays (asleep) until the host removes
# the instance, so the host can read the instance's final CPU and memory figures while every
# workload process has been reaped.
# READY carries the wall-clock time it was written, for measuring how soon the host sees it.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/tmp
mode=exit
case "${1:-}" in
    --poweroff) mode=poweroff; shift ;;
    --hold) mode=hold; shift ;;
esac
name=${1:-}

finish() {
    case "$mode" in
        poweroff)
            sync
            echo o > /proc/sysrq-trigger
            sleep 60 ;;  # PID 1 must outlive the power-off request
        hold) exec sleep infinity ;;
    esac
    exit "$1"
}

# NAME@SECONDS: the suite's measured duration for the workload's {seconds}, else its own.
seconds=""
case "$name" in
    *@*) seconds=${name#*@}; name=${name%%@*} ;;
esac
case "$seconds" in
    *[!0-9]*) seconds="" ;;
esac
case "$name" in
    ""|*[!a-z0-9_-]*) name=invalid ;;
esac
run=/usr/local/lib/bench/workloads/$name/run
if [ ! -f "$run" ]; then
    echo "@@BENCH RESULT {\"workload\":\"$name\",\"error\":\"no such workload in this image\"}"
    finish 2
fi

as_user() {
    if [ -f "${run%/run}/as-root" ]; then  # the exposure probe: what root inside can reach
        "$@"
    elif [ "$(id -u)" = 0 ]; then
        setpriv --reuid=bench --regid=bench --init-groups -- "$@"
    else
        "$@"
    fi
}

echo "@@BENCH READY $name $(date +%s%N)"
started=$(date +%s%N)
# BENCH_SERVER: for a network workload, the host's address on this instance's network path;
# BENCH_LISTEN: where a server workload's server binds (the host's client comes to it there).
output=$(cd /tmp && as_user env -i PATH="$PATH" LC_ALL=C HOME=/tmp BENCH_SERVER="${BENCH_SERVER:-}" \
    BENCH_LISTEN="${BENCH_LISTEN:-0.0.0.0}" BENCH_SECONDS="$seconds" sh "$run" 2>&1)
code=$?
ended=$(date +%s%N)
[ -n "$output" ] && printf '%s\n' "$output"
printf '@@BENCH RESULT {"workload":"%s","exit_code":%d,"started_ns":%s,"ended_ns":%s,"output_b64":"%s"}\n' \
    "$name" "$code" "$started" "$ended" "$(printf '%s' "$output" | base64 -w0)"
finish 0
