# Runs in rootfs while PID 1 is offroot-init (time-limit.sh): the time
# limit of the automatic return, set with offroot extend (enter itself
# needs a disk; extend sets the same record), run out, put off, called off,
# and waiting for a transition. There is no disk here, so the automatic
# return PID 1 starts is the real offroot return, which refuses (no root
# recorded): what a failed one must leave is checked, the host DETACHED
# with the stub as PID 1. The return by hand at the end is stub-driver's.
#
# OFFROOT_TEST_MINIMUM_TIMEOUT lowers the shortest limit (1m) to seconds;
# it is for these tests only (system/time_limit.hpp).
. /tests/in-namespace.sh
set -u

stub_is_pid1() { [ "$(dev_ino /proc/1/exe)" = "$(dev_ino /usr/lib/offroot/offroot-init)" ]; }
check "offroot-init became PID 1" wait_until 20 stub_is_pid1
# PID 1 starts /usr/sbin/offroot, as the package installs it.
mkdir -p /usr/sbin
ln -sf /usr/lib/offroot/offroot /usr/sbin/offroot
offroot=/usr/sbin/offroot
log=/var/lib/offroot/log
record=/var/lib/offroot/time-limit
: >> "$log"
fired() { grep -c 'offroot-init: warning: the time limit of .* ran out with no offroot extend' "$log"; }
status_says() { $offroot status | grep -q "$1"; }
# says TEXT PATTERN: TEXT (a command's output) has a line matching PATTERN.
says() { printf '%s\n' "$1" | grep -q -- "$2"; }

# enter freed the disk: the real root, moved aside by hand, is no longer
# at /root (it waits at /parked for the return by hand at the end).
mkdir -p /parked
mount --move /root /parked
state=$($offroot status | sed -n 's/^offroot status: //p')
check_eq "the scene is DETACHED" DETACHED "$state"

# --- Refused before anything: too short, garbage, no duration.
out=$($offroot extend 30s 2>&1)
check_eq "extend 30s: a usage error" 2 "$?"
check "it names the minimum" says "$out" 'extend: 30s is shorter than the minimum of 1m'
$offroot extend soon >/dev/null 2>&1
check_eq "extend soon: a usage error" 2 "$?"
$offroot extend >/dev/null 2>&1
check_eq "extend without a duration: a usage error" 2 "$?"
check "nothing was set" test ! -e "$record"

export OFFROOT_TEST_MINIMUM_TIMEOUT=1

# --- Called off: offroot confirm, and nothing fires.
out=$($offroot extend 3s)
check_eq "extend 3s: done" 0 "$?"
check "extend says when the return starts" says "$out" 'the automatic return starts in 3s'
check "status shows the time left" status_says '^automatic return in [0-9]s (time limit 3s)'
json=$($offroot status --json)
check "status --json: the time left" \
    says "$json" '"automatic_return":{"limit_seconds":3,"seconds_left":[0-9],"started":false,"failed":null}'
out=$($offroot confirm)
check_eq "confirm: done" 0 "$?"
check "confirm says the host stays DETACHED" says "$out" 'no automatic return; the host stays DETACHED'
sleep 6
check_eq "confirmed: PID 1 started no return" 0 "$(fired)"
check "confirmed: still DETACHED with the stub" stub_is_pid1
check "status: no automatic return" status_says '^automatic return: none'

# --- Put off: a second extend before the first limit ran out.
$offroot extend 3s >/dev/null
sleep 1
$offroot extend 8s >/dev/null
sleep 5
check_eq "extended: nothing fired at the first limit" 0 "$(fired)"
check "extended: status shows the new time left" status_says '^automatic return in [0-9]s (time limit 8s)'

# --- Run out: PID 1 starts offroot return on its own, once.
check "the limit ran out: PID 1 started the return" wait_until 15 sh -c "[ \$(grep -c 'ran out with no offroot extend' $log) -ge 1 ]"
check "the return says who started it and why" wait_until 10 \
    grep -q 'offroot: warning: return: started by offroot-init: the time limit of 8s ran out' "$log"
failed_recorded() { grep -q '^FAILED=' "$record"; }
check "the failed return is recorded" wait_until 10 failed_recorded
cat "$log"
check "still DETACHED: the stub is PID 1" stub_is_pid1
out=$($offroot status)
echo "$out"
check "status says the automatic return failed, and why" \
    says "$out" '^automatic return FAILED (the time limit of 8s ran out [0-9]*s ago): '
check "status says the emergency session stays" says "$out" 'the emergency session on port 1022 stays'
sleep 5
check_eq "a failed automatic return is not started again every tick" 1 "$(fired)"

# --- A transition runs when the limit runs out: the return waits for it.
# (extend also sets a new try after the failed one.)
$offroot extend 2s >/dev/null
/tests/transition-driver enter 1 slow slow slow slow slow >/dev/null 2>&1 &
driver=$!
check "the limit ran out during the transition: PID 1 waits" wait_until 10 \
    grep -q 'the time limit ran out while an offroot transition runs: the automatic return waits for it' "$log"
check_eq "no return started while it runs" 1 "$(fired)"
wait "$driver"
check "once it ended, PID 1 started the return" wait_until 10 sh -c "[ \$(grep -c 'ran out with no offroot extend' $log) -eq 2 ]"
done_line=$(grep -n 'enter: all steps done' "$log" | tail -n 1 | cut -d: -f1)
start_line=$(grep -n 'ran out with no offroot extend' "$log" | tail -n 1 | cut -d: -f1)
check "the return started after the transition's end" test "${start_line:-0}" -gt "${done_line:-999999}"
check "and failed again, recorded" wait_until 10 failed_recorded
check "still the stub" stub_is_pid1
$offroot confirm >/dev/null

# --- sshd's return: a limit past, nothing on port 22 (a network namespace
# of its own: nothing listens there), then a listener.
up=$(cut -d. -f1 /proc/uptime)
printf 'DEADLINE=%s\nLIMIT=300\n' "$((up - 1))" > /var/lib/offroot/sshd-limit
out=$(unshare -n $offroot status)
check "status: sshd did not come back, the emergency session is there" \
    says "$out" '^sshd on port 22 did not come back within 5m of offroot return: the emergency session on port 1022 is still available'
json=$(unshare -n $offroot status --json)
check "status --json: sshd overdue" \
    says "$json" '"sshd_return":{"limit_seconds":300,"seconds_left":-[0-9]*,"listening":false,"overdue":true}'
out=$(unshare -n sh -c "nc -l -p 22 >/dev/null 2>&1 & sleep 0.5; $offroot status; kill \$!")
check "status: sshd listening on port 22 again" says "$out" '^sshd on port 22: listening again'
rm -f /var/lib/offroot/sshd-limit

# offroot return, by hand (stub-driver.sh's way).
umount -l /parked/sbin/init
mount -o move /parked /
: > /../run/driver-done
kill -USR1 1
