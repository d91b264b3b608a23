#!/bin/sh
# Backstop started by vm_boot (lib.sh) in its own session: kills one QEMU process when the
# test shell that started it is gone (even after SIGKILL, when no trap could run) or when
# the VM has outlived OFFROOT_VM_MAX_LIFETIME. Exits as soon as QEMU is gone.
#   watchdog.sh OWNER_PID QEMU_PID WORKDIR MAX_SECONDS
set -eu
owner=$1 qpid=$2 dir=$3 max=$4
end=$(( $(date +%s) + max ))

ours() {   # is $qpid still the QEMU of $dir (and not a recycled pid)?
    [ -r "/proc/$qpid/cmdline" ] || return 1
    tr '\0' '\n' < "/proc/$qpid/cmdline" 2>/dev/null | grep -qF -- "$dir/disk.img"
}

while ours; do
    if ! kill -0 "$owner" 2>/dev/null || [ "$(date +%s)" -ge "$end" ]; then
        echo "watchdog: killing qemu $qpid of $dir (owner $owner gone or lifetime $max s over)" \
            >> "$dir/watchdog.log"
        kill -TERM "$qpid" 2>/dev/null || true
        i=0
        while ours && [ "$i" -lt 10 ]; do sleep 1; i=$((i + 1)); done
        if ours; then kill -KILL "$qpid" 2>/dev/null || true; fi
        exit 0
    fi
    sleep 2
done
exit 0
