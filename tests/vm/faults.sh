#!/bin/bash
# Faults during the transitions (issue 10 part 6), in a real guest with a
# service writing to the disk and data with known checksums:
#  - the admin's 1022 session cut (its ssh client killed) in the middle of
#    enter, then of return: the transition goes on in its worker;
#  - offroot killed with SIGKILL at every step of enter and of return
#    (OFFROOT_TEST_KILL_AT, transitions/plan.cpp: as the step begins, and
#    for the steps where the record and the system disagree most, once its
#    action is done), then `offroot recover`, the command status names;
#  - sshd not coming back after return: return --sshd-timeout and status
#    on 1022 say so, and the 1022 session brings it back;
#  - the power cut while DETACHED: the filesystem clean, the next boot
#    normal.
# After each: NORMAL (or DETACHED where recover finishes an enter), sshd
# on 22 back, every checksum, the writer running, a new login on 1022, and
# the admin's held 1022 session still printing. Each fault's line gives
# the longest silence of that session and how long port 22 was away.
#
#   tests/vm/faults.sh DEB [SUITE [INIT]]     (default bookworm systemd)
#   OFFROOT_VM_FAULT_STEPS="enter:bind-stub return:signal-stub:done ..."
#   runs only those kill points.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"
. "$here/checks.sh"
. "$here/guest-workload.sh"

deb=${1:?usage: faults.sh DEB [SUITE [INIT]]}
suite=${2:-bookworm}
init=${3:-systemd}
name="faults-$suite-$init"
summary() { checks_summary "faults $suite/$init"; }
vm_setup_traps
trap 'vm_cleanup; summary' EXIT
[ "$(id -u)" = 0 ] || { fail "must run as root"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb"; exit 1; }

img=$(vm_base_image "$suite" "$init") || { fail "image $suite/$init"; exit 1; }
offroot_guest "$name" "$suite" "$init" "$deb" "$img" || { fail "an armed $suite/$init guest"; exit 1; }
dir=$(vm_dir "$name")
install_test_writer "$name" "$init" "$dir/writer.log" || { fail "installing the test writer"; exit 1; }

boot_and_wait() {
    vm_boot "$name" || return 1
    vm_wait_ssh "$name" 22 300 || return 1
    vm_wait_ssh "$name" 1022 60 || return 1
    settle
}
# Until the init has started everything: systemd says so; sysvinit's rc
# runs the runlevel's scripts after sshd's, so until no rc is left (the
# bracket keeps the pattern from matching the shell that runs it).
settle() {
    if [ "$init" = systemd ]; then
        OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true
    else
        vm_ssh "$name" 22 'for i in $(seq 1 180); do pgrep -f "/etc/init.d/r[c] " >/dev/null || exit 0; sleep 1; done; exit 1' \
            || echo "    (the runlevel's rc still runs 180 s after sshd answered)"
    fi
}
boot_and_wait || { fail "the guest's first boot"; exit 1; }
write_test_data "$name" || { fail "writing the test data"; exit 1; }
pass "wrote 32 MiB of random data and a copy of /usr/bin, with checksums"
hold_session "$name" "$dir/session.out" || { fail "the 1022 session"; exit 1; }

ssh1022() { OFFROOT_VM_SSH_TIMEOUT=${OFFROOT_VM_SSH_TIMEOUT:-600} vm_ssh "$name" 1022 "$@"; }
state() { ssh1022 offroot status 2>/dev/null | sed -n 's/^offroot status: \([A-Z-]*\).*/\1/p'; }
wait_state() {   # STATE SECONDS
    local i
    for i in $(seq 1 "$2"); do [ "$(state)" = "$1" ] && return 0; sleep 1; done
    return 1
}
# The held session's longest silence since line FROM of its output, in s.
session_gap() {
    tail -n +"$1" "$dir/session.out" | awk 'NR > 1 && $1 - prev > gap { gap = $1 - prev } { prev = $1 } END { print gap + 0 }'
}
# Back to NORMAL as a host must be after a fault: sshd, data, writer, no
# stray stub, a fresh 1022 login, the held session alive.
healthy() {   # LABEL
    local label=$1 st
    check "$label: offroot status NORMAL" wait_state NORMAL 120 || return 1
    check "$label: sshd on 22 answers" vm_wait_ssh "$name" 22 180 || return 1
    settle
    check "$label: every checksum matches" test_data_intact "$name" 22
    check "$label: the writer runs" test_writer_runs "$name" "$init"
    [ "$init" != systemd ] || check "$label: no failed units" no_failed_units "$name"
    st=$(ssh1022 offroot status 2>&1)
    check_not "$label: status names no interrupted transition and no stray stub" grep -qE 'INTERRUPTED|stray stub|transition running' <<< "$st"
    check "$label: a new login on 1022" ssh1022 true
    check "$label: the held 1022 session is still connected" kill -0 "$session"
}

# --- 1. The admin's session cut in the middle of enter, then of return.
# The ssh client is killed as the log shows the transition under way; the
# worker goes on in its own session.
cut_session_during() {   # enter|return STEP-PATTERN FINAL-STATE
    local transition=$1 pattern=$2 final=$3 client i t0 from
    from=$(wc -l < "$dir/session.out")
    t0=$(date +%s)
    # The ssh client itself, not a subshell around it: its death is the cut.
    local opts
    mapfile -t opts < <(_vm_ssh_opts "$name" "$(vm_port "$name" 1022)" 10)
    ssh "${opts[@]}" -- 127.0.0.1 offroot "$transition" > "$dir/cut-$transition.out" 2>&1 < /dev/null &
    client=$!
    for i in $(seq 1 300); do grep -q "$pattern" "$dir/cut-$transition.out" && break; sleep 0.2; done
    kill -KILL "$client" 2>/dev/null; wait "$client" 2>/dev/null
    check "session cut during $transition: the client was killed at: $(grep "$pattern" "$dir/cut-$transition.out" | head -n 1 | cut -c1-80)" \
        grep -q "$pattern" "$dir/cut-$transition.out"
    check "session cut during $transition: $final within 300 s" wait_state "$final" 300 || return 1
    echo "fault: 1022 session cut during $transition: $final after $(( $(date +%s) - t0 )) s; the held session's longest silence $(session_gap "$from") s"
}
if [ -z "${OFFROOT_VM_FAULT_STEPS:-}" ]; then
    cut_session_during enter 'enter: .*stop-services:' DETACHED && check "session cut during enter: 1022 answers a new login" ssh1022 true &&
        check "DETACHED after the cut: e2fsck -f of the free root is clean" ssh1022 e2fsck -f -y /dev/vda
    cut_session_during return 'return: .*mount-root:' NORMAL && healthy "session cut during return"
fi

# --- 2. SIGKILL at each step, then offroot recover.
plan_steps() {   # enter|return: the step names of the plan --dry-run prints
    ssh1022 offroot "$1" --dry-run --json | python3 -c 'import json,sys; print("\n".join(s["name"] for s in json.load(sys.stdin)["steps"]))'
}
enter_steps=$(plan_steps enter) || { fail "enter --dry-run --json"; exit 1; }
kill_points=""
for s in $enter_steps; do
    [ "$s" = continue-from-rootfs ] && continue
    kill_points="$kill_points enter:$s"
    case "$s" in stop-services|reexec-pid1|unmount-root) kill_points="$kill_points enter:$s:done" ;; esac
done
# return's plan is read while DETACHED.
ssh1022 offroot enter > "$dir/plan-enter.out" 2>&1 || { cat "$dir/plan-enter.out"; fail "enter, for return's plan"; exit 1; }
return_steps=$(plan_steps return) || { fail "return --dry-run --json"; exit 1; }
ssh1022 offroot return > "$dir/plan-return.out" 2>&1 || { cat "$dir/plan-return.out"; fail "return, after reading its plan"; exit 1; }
healthy "after reading return's plan" || exit 1
for s in $return_steps; do
    kill_points="$kill_points return:$s"
    case "$s" in mount-root|signal-stub) kill_points="$kill_points return:$s:done" ;; esac
done
# A step that runs more than once (swapoff, detach-loop: one per device)
# is killed the first time only (the hook matches names).
kill_points=$(printf '%s\n' ${OFFROOT_VM_FAULT_STEPS:-$kill_points} | awk '!seen[$0]++' | xargs)
echo "# kill points:$kill_points"

kill_and_recover() {   # TRANSITION:STEP[:done]
    local point=$1 transition=${1%%:*} out rc st t0 from down after
    from=$(wc -l < "$dir/session.out")
    if [ "$transition" = return ]; then
        out=$(ssh1022 offroot enter 2>&1) || { echo "$out" | sed 's/^/    /'; fail "$point: the enter before"; return 1; }
    fi
    t0=$(date +%s)
    out=$(ssh1022 "OFFROOT_TEST_KILL_AT=$point offroot $transition" 2>&1) && rc=0 || rc=$?
    echo "$out" | tail -n 4 | sed 's/^/    /'
    check "$point: the worker died of SIGKILL there" grep -q 'was killed by SIGKILL' <<< "$out" || return 1
    st=$(ssh1022 offroot status 2>&1)
    check "$point: status names offroot recover" grep -q 'offroot recover' <<< "$st"
    out=$(ssh1022 offroot recover 2>&1) && rc=0 || rc=$?
    echo "$out" | grep 'recover' | sed 's/^/    /'
    check "$point: offroot recover" test "$rc" = 0 || { echo "$st" | sed 's/^/    /'; return 1; }
    after=$(state)
    if [ "$after" = DETACHED ]; then
        # enter had freed the disk: recover finished it; back as always.
        check "$point: DETACHED after recover, as the disk was free; e2fsck -f clean" ssh1022 e2fsck -f -y /dev/vda
        out=$(ssh1022 offroot return 2>&1) || { echo "$out" | sed 's/^/    /'; fail "$point: offroot return"; return 1; }
    fi
    healthy "$point" || return 1
    down=$(( $(date +%s) - t0 ))
    echo "fault: SIGKILL at $point: recover left it ${after:-?}; NORMAL with sshd ${down} s after the kill; the held session's longest silence $(session_gap "$from") s"
}
for point in $kill_points; do
    kill_and_recover "$point" || {
        # A host left as it is would fail every later point: a fresh boot.
        echo "# $point left the guest unhealthy: status, then a power cycle"
        ssh1022 offroot status 2>&1 | sed 's/^/    /'
        ssh1022 "tail -n 30 /var/lib/offroot/log" 2>&1 | sed 's/^/    /'
        vm_kill "$name"; kill "$session" 2>/dev/null
        boot_and_wait || { fail "booting again after $point"; exit 1; }
        hold_session "$name" "$dir/session.out"
    }
done

# --- 3. sshd does not come back after return (its binary moved away while
# DETACHED): return waits --sshd-timeout and says so, status on 1022 says
# so, and the 1022 session is there to bring it back.
if [ -z "${OFFROOT_VM_FAULT_STEPS:-}" ]; then
    in_root() { ssh1022 "d=/var/lib/offroot/inspect; mkdir -p \$d && mount /dev/vda \$d && $1; s=\$?; umount \$d; exit \$s"; }
    out=$(ssh1022 offroot enter 2>&1)
    check "sshd kept away: offroot enter" wait_state DETACHED 10
    check "sshd kept away: sshd moved aside on the unmounted root" in_root 'mv $d/usr/sbin/sshd $d/usr/sbin/sshd.offroot-test'
    t0=$(date +%s)
    out=$(ssh1022 offroot return --sshd-timeout 1m 2>&1) && rc=0 || rc=$?
    echo "$out" | tail -n 3 | sed 's/^/    /'
    check "sshd kept away: return waited 1m and said sshd did not answer ($(( $(date +%s) - t0 )) s)" \
        grep -q 'sshd on port 22 did not answer within 1m' <<< "$out"
    check "sshd kept away: NORMAL" wait_state NORMAL 10
    check_not "sshd kept away: port 22 does not answer" vm_ssh "$name" 22 true
    check "sshd kept away: status on 1022 says sshd did not come back" \
        grep -q 'sshd on port 22 did not come back within 1m' <<< "$(ssh1022 offroot status 2>&1)"
    if [ "$init" = systemd ]; then
        restart='systemctl reset-failed ssh.service; systemctl restart ssh.service'
    else
        restart='/etc/init.d/ssh start'
    fi
    check "sshd kept away: from the 1022 session, sshd put back and started" \
        ssh1022 "mv /proc/1/root/usr/sbin/sshd.offroot-test /proc/1/root/usr/sbin/sshd && chroot /proc/1/root /bin/sh -c '$restart'"
    healthy "sshd kept away, then started from 1022"
    check "sshd kept away: status says sshd listens again" \
        grep -q 'sshd on port 22: listening again' <<< "$(ssh1022 offroot status 2>&1)"
fi

# --- 4. Power cut while DETACHED.
if [ -z "${OFFROOT_VM_FAULT_STEPS:-}" ]; then
    out=$(ssh1022 offroot enter 2>&1) && rc=0 || rc=$?
    check "power cut: offroot enter" test "$rc" = 0
    check "power cut: DETACHED" wait_state DETACHED 10
    kill "$session" 2>/dev/null
    vm_kill "$name"
    check "power cut: the root filesystem is clean (e2fsck -fn on the host)" e2fsck -fn "$dir/disk.img"
    t0=$(date +%s)
    boot_and_wait || { fail "power cut: the next boot"; exit 1; }
    echo "fault: power cut while DETACHED: sshd $(( $(date +%s) - t0 )) s after power on"
    hold_session "$name" "$dir/session.out"
    healthy "power cut, next boot"
    check_not "power cut: the boot's kernel log has no ext4 recovery" \
        grep -qE 'EXT4-fs \(vda\): (recovery complete|orphan cleanup)' <<< "$(vm_ssh "$name" 22 dmesg)"
fi

kill "$session" 2>/dev/null || true
vm_poweroff "$name" 22 || fail "powered off"
[ "$failed" -eq 0 ]
