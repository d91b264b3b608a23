#!/bin/bash
# The emergency cycle, end to end, in a real guest: data written with known
# checksums, then from the 1022 session `offroot enter`, e2fsck -f and a
# resize2fs shrink of the unmounted root, `offroot return`; the data, the
# services, sshd, the address and the 1022 session all survive. Twice.
#
#   tests/vm/cycle.sh DEB [SUITE [INIT [GENERATOR]]]
#   (default: bookworm systemd; GENERATOR $OFFROOT_VM_GENERATOR or
#   initramfs-tools, or dracut: a vm_dracut_image guest, the tmpfs switch)
# Every failure is a counted check or an explicit exit: no set -e.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"

deb=${1:?usage: cycle.sh DEB [SUITE [INIT]]}
suite=${2:-bookworm}
init=${3:-systemd}
generator=${4:-${OFFROOT_VM_GENERATOR:-initramfs-tools}}
name="cycle-$suite-$init"
generator_label=""
if [ "$generator" != initramfs-tools ]; then
    name="$name-$generator"
    generator_label=" ($generator)"
fi
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}

. "$here/checks.sh"
. "$here/guest-workload.sh"
summary() { checks_summary "cycle $suite/$init${generator_label}"; }
vm_setup_traps
trap 'vm_cleanup; summary' EXIT

[ "$(id -u)" = 0 ] || { fail "must run as root"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb"; exit 1; }

img=$(vm_generator_image "$suite" "$init" "$generator") || { fail "$generator image $suite/$init"; exit 1; }
offroot_guest "$name" "$suite" "$init" "$deb" "$img" "$generator" || { fail "an armed $suite/$init guest"; exit 1; }
dir=$(vm_dir "$name")

# A service that keeps a file open for writing and says so when it is
# stopped cleanly: enter must stop it, not kill it mid-write.
install_test_writer "$name" "$init" "$dir/writer.log" || { fail "installing the test writer"; exit 1; }
writer_runs() { test_writer_runs "$name" "$init"; }

# The migration target: a second disk for `offroot return --root`.
second_disk=$(vm_add_disk "$name" 2G) || { fail "a second disk"; exit 1; }
vm_boot "$name" || { fail "vm_boot"; exit 1; }
vm_wait_ssh "$name" 22 "$boot_timeout" || { fail "sshd on 22"; exit 1; }
vm_wait_ssh "$name" 1022 60 || { fail "ssh on 1022"; exit 1; }
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }

# Data with known checksums, on the disk for real.
write_test_data "$name" || { fail "writing the test data"; exit 1; }
pass "wrote 32 MiB of random data and a copy of /usr/bin, with checksums"
address=$(vm_ssh "$name" 1022 "ip -4 -o addr show scope global" | awk '{print $2, $4}')
units_before=$(vm_ssh "$name" 22 "systemctl list-units --type=service --state=running --no-legend --plain 2>/dev/null | awk '{print \$1}' | sort" || true)

# The admin's 1022 session, held open for the whole cycle.
hold_session "$name" "$dir/session.out" || { fail "the 1022 session"; exit 1; }

one_cycle() {   # N SHRINK_TO(or empty) [fsck]
    local n=$1 shrink=${2:-} fsck=${3:-} out
    out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1) && rc=0 || rc=$?
    echo "$out" | sed 's/^/    /'
    check "cycle $n: offroot enter" test "$rc" = 0 || return 1
    # Every service stopped with its own stop logic before PID 1 was
    # re-executed: what is left for kill-leftovers goes on SIGTERM.
    check "cycle $n: nothing left by the service stop needed SIGKILL" grep -q '(0 needed SIGKILL)' <<< "$out"
    enter_line=$(grep 'DETACHED:' <<< "$out" || true)
    check "cycle $n: offroot status says DETACHED" status_is DETACHED || return 1
    if [ "$n" = 1 ]; then
        # What keeps 1022 while DETACHED: the watcher starts dropbear again,
        # PID 1 (offroot-init) the watcher.
        check "cycle 1: DETACHED, the emergency dropbear, killed, is started again" dropbear_restarts "$name" 1022 1022
        check "cycle 1: DETACHED, its watcher, killed, is started again by PID 1" watcher_restarts "$name"
        check "cycle 1: DETACHED, a copy into the session's /tmp ends in ENOSPC" vm_ssh "$name" 1022 \
            'dd if=/dev/zero of=/tmp/fill bs=1M count=1024 2>&1 | grep -q "No space left"; rc=$?; rm -f /tmp/fill; exit $rc'
    fi
    check "cycle $n: e2fsck came into RAM at enter" \
        vm_ssh "$name" 1022 "grep -q 'brought into RAM by offroot enter' /usr/sbin/e2fsck"
    check "cycle $n: e2fsck -f of the unmounted root is clean" vm_ssh "$name" 1022 e2fsck -f -y /dev/vda
    if [ -n "$shrink" ]; then
        check "cycle $n: resize2fs shrinks the root to $shrink" vm_ssh "$name" 1022 resize2fs /dev/vda "$shrink"
        check "cycle $n: e2fsck -n of the shrunk root is clean" vm_ssh "$name" 1022 e2fsck -f -n /dev/vda
    fi
    check "cycle $n: the writer was stopped cleanly, not killed" \
        vm_ssh "$name" 1022 "d=/var/lib/offroot/inspect; mkdir -p \$d && mount -o ro /dev/vda \$d && tail -n 1 \$d/srv/writer.log | grep -qx clean-stop; s=\$?; umount \$d; exit \$s"
    # The second cycle returns through --fsck (e2fsck -p before mounting).
    out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return ${fsck:+--fsck} 2>&1) && rc=0 || rc=$?
    echo "$out" | sed 's/^/    /'
    check "cycle $n: offroot return${fsck:+ --fsck}" test "$rc" = 0 || return 1
    [ -n "$fsck" ] && check "cycle $n: return --fsck ran e2fsck -p on the root" grep -q 'e2fsck -p /dev/vda -> 0' <<< "$out"
    return_line=$(grep 'NORMAL:' <<< "$out" || true)
    check "cycle $n: sshd on 22 answers again" vm_wait_ssh "$name" 22 120
    [ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
    check "cycle $n: every checksum matches" test_data_intact "$name" 22
    check "cycle $n: offroot status says NORMAL" status_is NORMAL
    check_not "cycle $n: back on the same root, no warning about the next reboot" \
        grep -q 'next reboot goes back' <<< "$(vm_ssh "$name" 22 offroot status 2>&1)"
    check "cycle $n: the tools are gone from RAM after return" \
        vm_ssh "$name" 1022 "test ! -e /usr/lib/offroot/tools && test ! -e /usr/sbin/e2fsck"
    if [ "$init" = systemd ]; then
        check "cycle $n: no failed units" no_failed_units "$name"
        now=$(vm_ssh "$name" 22 "systemctl list-units --type=service --state=running --no-legend --plain | awk '{print \$1}' | sort")
        missing=$(comm -23 <(echo "$units_before") <(echo "$now"))
        check "cycle $n: every service that ran before runs again${missing:+ (missing: $missing)}" test -z "$missing"
    fi
    check "cycle $n: the writer runs again" writer_runs
    # What the cycle logged while no log daemon ran (journald, or rsyslog
    # on sysvinit) reached the log after return, once: one DETACHED line per
    # cycle so far, and on systemd the boot's kernel lines not read twice.
    check "cycle $n: the system log has each cycle once ($n DETACHED lines: $(log_lines 'DETACHED: '))" \
        test "$(log_lines 'DETACHED: ')" = "$n"
    [ "$init" = systemd ] && check "cycle $n: the journal has the boot's kernel lines once" \
        test "$(vm_ssh "$name" 22 "journalctl -b -k -o cat | grep -c '^Linux version '")" = 1
    check "cycle $n: the address never changed" test "$(vm_ssh "$name" 1022 "ip -4 -o addr show scope global" | awk '{print $2, $4}')" = "$address"
    check "cycle $n: the 1022 session stayed connected" kill -0 "$session"
    echo "cycle $n figures: ${enter_line:-no DETACHED line} / ${return_line:-no NORMAL line}"
}
status_is() { vm_ssh "$name" 1022 offroot status 2>/dev/null | grep -q "^offroot status: $1"; }
log_lines() {   # PATTERN: how many lines of this boot's system log hold it
    if [ "$init" = systemd ]; then
        vm_ssh "$name" 22 "journalctl -b -o cat | grep -c -F '$1'"
    else
        vm_ssh "$name" 22 "grep -c -F '$1' /var/log/syslog"
    fi
}


# Too little RAM: refused, with the reason, and nothing changed.
refusal=$(vm_ssh "$name" 1022 offroot enter --min-free 100000000 2>&1) && rc=0 || rc=$?
check "enter with too little RAM is refused" test "$rc" = 1
check "the refusal names the RAM figures" grep -q 'not enough RAM: .* available, .* needed' <<< "$refusal"
check "after the refusal: still NORMAL" status_is NORMAL
check "after the refusal: sshd on 22 still works" vm_ssh "$name" 22 true

one_cycle 1 1800M || true
check "the root was shrunk to 1800M" test "$(vm_ssh "$name" 22 "stat -f -c '%b %S' / | awk '{print int(\$1 * \$2 / 1048576)}'")" -le 1800
lines_before=$(wc -l < "$dir/session.out")
one_cycle 2 "" fsck || true

# The dead-man return (offroot enter --timeout): a limit set at enter and
# put off once by offroot extend over the 1022 session, then left to run
# out: PID 1 starts the return itself, and the host comes back NORMAL with
# sshd, the services and the data. ~1.5 min: CI runs it on one guest per
# init (OFFROOT_VM_AUTO_RETURN=0 on the others, tests/CMakeLists.txt).
auto_return_cycle() {
    local out rc t0 waited
    out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter --timeout 1m 2>&1) && rc=0 || rc=$?
    echo "$out" | sed 's/^/    /'
    check "automatic return: offroot enter --timeout 1m" test "$rc" = 0 || return 1
    check "automatic return: nothing left by the service stop needed SIGKILL" grep -q '(0 needed SIGKILL)' <<< "$out"
    check "automatic return: status shows the time left" \
        grep -q '^automatic return in ' <<< "$(vm_ssh "$name" 1022 offroot status 2>&1)"
    check "automatic return: offroot extend 1m over the 1022 session" \
        grep -q 'the automatic return starts in 1m' <<< "$(vm_ssh "$name" 1022 offroot extend 1m 2>&1)"
    t0=$(date +%s)
    # No offroot return: the limit runs out 1 min after the extend.
    while ! status_is NORMAL && [ $(( $(date +%s) - t0 )) -lt 600 ]; do sleep 10; done
    waited=$(( $(date +%s) - t0 ))
    check "automatic return: NORMAL again on its own, ${waited}s after the extend" status_is NORMAL || return 1
    check "automatic return: not before the extended limit" test "$waited" -ge 55
    check "automatic return: sshd on 22 answers again" vm_wait_ssh "$name" 22 120
    check "automatic return: the stub said why it returned" \
        grep -q 'ran out with no offroot extend or offroot confirm' <<< "$(vm_ssh "$name" 22 dmesg 2>&1)"
    check "automatic return: every checksum matches" test_data_intact "$name" 22
    check "automatic return: the writer runs again" writer_runs
    check "automatic return: the 1022 session stayed connected" kill -0 "$session"
}
if [ "${OFFROOT_VM_AUTO_RETURN:-1}" = 1 ]; then
    auto_return_cycle || true
else
    echo "# automatic return not run on this guest (OFFROOT_VM_AUTO_RETURN=${OFFROOT_VM_AUTO_RETURN})"
fi

# Cycle 3: enter started from a normal session on port 22, which offroot
# ends; the disk copied to the second disk; return onto the copy.
from22=$(vm_ssh "$name" 22 offroot enter 2>&1 || true)
check "enter from port 22 hands over to the emergency environment" grep -q 'continues inside the emergency environment' <<< "$from22"
# ... and follows its steps until stop-services closes the session.
check "enter from port 22 follows its steps (1/N preflight shown)" grep -qE '^offroot: enter: 1/[0-9]+ preflight' <<< "$from22"
sed 's/^/    22: /' <<< "$from22"
detached() { status_is DETACHED; }
wait_detached() { local i; for i in $(seq 1 120); do detached && return 0; sleep 1; done; return 1; }
check "cycle 3: DETACHED, reached from the port-22 session" wait_detached
refused_return() {   # DEVICE EXPECTED-MESSAGE
    local out
    out=$(vm_ssh "$name" 1022 offroot return --root "$1" 2>&1) && return 1
    echo "    $out"
    grep -q "$2" <<< "$out" && status_is DETACHED
}
check "cycle 3: return onto a device that does not exist: refused, still DETACHED" \
    refused_return /dev/vdz 'No such file or directory'
check "cycle 3: return onto a disk without a filesystem: refused, still DETACHED" \
    refused_return /dev/vdb 'holds no filesystem'
check "cycle 3: the root copied onto the second disk" vm_ssh "$name" 1022 dd if=/dev/vda of=/dev/vdb bs=4M conv=fsync
vm_ssh "$name" 1022 'mkdir -p /var/lib/offroot/inspect && mount -o ro /dev/vdb /var/lib/offroot/inspect'
check "cycle 3: return onto a device in use: refused, still DETACHED" refused_return /dev/vdb 'Device or resource busy'
# The copy's fstab still mounts / from /dev/vda: its init would check or
# remount the old disk (sysvinit's checkroot stops at a maintenance
# prompt), so return refuses until the migration names its new root there.
vm_ssh "$name" 1022 "umount /var/lib/offroot/inspect"
check "cycle 3: return onto a copy whose fstab names the old root: refused, still DETACHED" \
    refused_return /dev/vdb 'fstab mounts / from /dev/vda, not /dev/vdb'
vm_ssh "$name" 1022 "mount /dev/vdb /var/lib/offroot/inspect && sed -i 's|^/dev/vda\([[:space:]]\)|/dev/vdb\1|' /var/lib/offroot/inspect/etc/fstab && umount /var/lib/offroot/inspect"
# A copy whose init cannot run is refused before PID 1 is handed over:
# its init gone, then its libc gone (each put back after).
in_copy() { vm_ssh "$name" 1022 "mount /dev/vdb /var/lib/offroot/inspect && $1; s=\$?; umount /var/lib/offroot/inspect; exit \$s"; }
in_copy 'mv /var/lib/offroot/inspect/sbin/init /var/lib/offroot/inspect/sbin/init.offroot-test'
check "cycle 3: return onto a copy without its init: refused, still DETACHED" \
    refused_return /dev/vdb 'the init "/sbin/init"'
in_copy 'mv /var/lib/offroot/inspect/sbin/init.offroot-test /var/lib/offroot/inspect/sbin/init'
in_copy 'mv /var/lib/offroot/inspect/usr/lib/x86_64-linux-gnu/libc.so.6 /var/lib/offroot/inspect/usr/lib/x86_64-linux-gnu/libc.so.6.offroot-test'
check "cycle 3: return onto a copy without the libc its init needs: refused, still DETACHED" \
    refused_return /dev/vdb 'libc.so.6'
in_copy 'mv /var/lib/offroot/inspect/usr/lib/x86_64-linux-gnu/libc.so.6.offroot-test /var/lib/offroot/inspect/usr/lib/x86_64-linux-gnu/libc.so.6'
out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return --root /dev/vdb 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "cycle 3: offroot return --root /dev/vdb" test "$rc" = 0
check "cycle 3: sshd on 22 answers again" vm_wait_ssh "$name" 22 120
check "cycle 3: the guest now runs from /dev/vdb" \
    test "$(vm_ssh "$name" 22 "awk '\$2 == \"/\" { print \$1 }' /proc/mounts | tail -n 1")" = /dev/vdb
check "cycle 3: every checksum matches on the copy" test_data_intact "$name" 22
check "cycle 3: offroot status says NORMAL" status_is NORMAL
# The copy's fstab names /dev/vdb, but the kernel command line still says
# root=/dev/vda (no grub.cfg in this guest): the next reboot goes back.
check "cycle 3: return --root warned that the next reboot goes back to /dev/vda" grep -q 'next reboot goes back to /dev/vda' <<< "$out"
check "cycle 3: status warns that the next reboot goes back to /dev/vda, until offroot persist" \
    grep -q 'next reboot goes back to /dev/vda.*offroot persist' <<< "$(vm_ssh "$name" 22 offroot status 2>&1)"

sleep 2
check "the 1022 session kept printing through every cycle" test "$(wc -l < "$dir/session.out")" -gt "$lines_before"
kill "$session" 2>/dev/null || true
vm_poweroff "$name" 22 || fail "powered off"
[ "$failed" -eq 0 ]
