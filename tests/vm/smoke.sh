#!/bin/bash
# Smoke test of the VM harness: builds (or reuses) a stock guest image, boots it, waits for
# sshd, checks the init system came up, powers off. No offroot package involved.
#   tests/vm/smoke.sh [SUITE [INIT]]      (default: bookworm systemd)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

suite=${1:-bookworm}
init=${2:-systemd}
name="smoke-$suite-$init"
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# shellcheck disable=SC2317
summary() { echo "smoke: $passed passed, $failed failed"; }

vm_setup_traps
trap 'vm_cleanup; summary' EXIT

if [ "$(id -u)" != 0 ]; then
    fail "must run as root (mmdebstrap, loop devices)"; exit 1
fi

t0=$(date +%s.%N)
if img=$(vm_base_image "$suite" "$init"); then
    pass "base image $suite/$init: $img (ready in $(_vm_since "$t0")s; built in $(cat "$img.buildtime" 2>/dev/null || echo '?')s)"
else
    fail "base image $suite/$init could not be built"; exit 1
fi

if vm_prepare "$name" "$img"; then
    pass "prepared $name (kernel $(cat "$(vm_dir "$name")/kernel-version"))"
else
    fail "vm_prepare $name"; exit 1
fi

if ! vm_boot "$name"; then fail "vm_boot $name"; exit 1; fi

if vm_wait_ssh "$name" 22 "$boot_timeout"; then
    pass "sshd answered $(cat "$(vm_dir "$name")/ssh-ready-22")s after qemu start"
else
    fail "no sshd within ${boot_timeout}s"; exit 1
fi

if out=$(vm_ssh "$name" 22 uname -r); then
    pass "uname -r: $out"
else
    fail "ssh uname -r"
fi

if [ "$init" = systemd ]; then
    # --wait blocks until boot finished; the ssh timeout bounds it.
    if state=$(OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait); then
        pass "systemctl is-system-running: $state"
    else
        fail "systemctl is-system-running: ${state:-no answer}"
        vm_ssh "$name" 22 systemctl --failed --no-pager || true
    fi
else
    if state=$(vm_ssh "$name" 22 runlevel) && [ "${state#* }" = 2 ]; then
        pass "runlevel: $state"
    else
        fail "runlevel: ${state:-no answer} (expected N 2)"
    fi
fi

want_pid1=init; [ "$init" = systemd ] && want_pid1=systemd
if pid1=$(vm_ssh "$name" 22 cat /proc/1/comm) && [ "$pid1" = "$want_pid1" ]; then
    pass "PID 1 is $pid1"
else
    fail "PID 1 is ${pid1:-unknown}, expected $want_pid1"
fi

if addr=$(vm_ssh "$name" 22 ip -4 -o addr show scope global) && printf '%s\n' "$addr" | grep -q '10\.0\.2\.15/'; then
    pass "guest has 10.0.2.15 from DHCP: $(printf '%s\n' "$addr" | awk '{print $2, $4}' | head -n 1)"
else
    fail "guest address: ${addr:-none}"
fi

tmpf=$(mktemp)
echo "offroot $$" > "$tmpf"
if vm_scp_to "$name" 22 "$tmpf" /root/copied && [ "$(vm_ssh "$name" 22 cat /root/copied)" = "offroot $$" ]; then
    pass "vm_scp_to round trip"
else
    fail "vm_scp_to round trip"
fi
rm -f "$tmpf"

if vm_poweroff "$name"; then
    pass "clean poweroff"
else
    fail "clean poweroff"
fi

if [ "$failed" -eq 0 ]; then
    vm_destroy "$name"
    exit 0
fi
echo "smoke: work dir kept for inspection: $(vm_dir "$name")"
exit 1
