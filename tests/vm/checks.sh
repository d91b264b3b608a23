# Sourced by the VM tests: TAP-like checks counted into one closing line.
#   check DESCRIPTION COMMAND...      passes when COMMAND succeeds
#   check_not DESCRIPTION COMMAND...  passes when COMMAND fails
# Both return the outcome, so that a step can stop a sequence early.
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }
check() {
    local description=$1
    shift
    if "$@"; then pass "$description"; else fail "$description"; return 1; fi
}
check_not() {
    local description=$1
    shift
    if "$@"; then fail "$description"; return 1; else pass "$description"; fi
}
# The closing line ctest's log is read for: "N passed, N failed".
checks_summary() { echo "$1: $passed passed, $failed failed"; }

# dropbear_restarts NAME KILL_PORT WATCH_PORT: kills the emergency dropbear
# (from a session on KILL_PORT) and passes when a new one answers logins on
# 1022 within 30 s, the pidfile read through WATCH_PORT.
dropbear_restarts() {
    local name=$1 kill_port=$2 watch_port=$3 before after i
    before=$(vm_ssh "$name" "$kill_port" cat /run/offroot/dropbear.pid) || return 1
    vm_ssh "$name" "$kill_port" "kill -KILL $before" || return 1
    for i in $(seq 1 30); do
        after=$(vm_ssh "$name" "$watch_port" cat /run/offroot/dropbear.pid 2>/dev/null || true)
        if [ -n "$after" ] && [ "$after" != "$before" ] && OFFROOT_VM_SSH_TIMEOUT=15 vm_ssh "$name" 1022 true; then
            echo "    dropbear $before killed, $after answers after ~${i} s"
            return 0
        fi
        sleep 1
    done
    return 1
}

# watcher_restarts NAME: kills the emergency dropbear's watcher from a 1022
# session and passes when another @offroot-watch runs within 15 s (in
# DETACHED, PID 1 starts it again).
watcher_restarts() {
    local name=$1 before after i
    before=$(vm_ssh "$name" 1022 cat /run/offroot/watch.pid) || return 1
    vm_ssh "$name" 1022 "kill -KILL $before" || return 1
    for i in $(seq 1 15); do
        after=$(vm_ssh "$name" 1022 cat /run/offroot/watch.pid 2>/dev/null || true)
        if [ -n "$after" ] && [ "$after" != "$before" ] &&
            vm_ssh "$name" 1022 "tr '\\0' ' ' < /proc/$after/cmdline | grep -q '^@offroot-watch'"; then
            echo "    watcher $before killed, $after runs after ~${i} s"
            return 0
        fi
        sleep 1
    done
    return 1
}

# no_failed_units NAME: passes when systemd in the guest has no failed
# unit; else prints each with the end of its journal, for the log to say
# why.
no_failed_units() {
    local name=$1 units
    units=$(vm_ssh "$name" 22 systemctl --failed --no-legend --plain) || return 1
    [ -z "$units" ] && return 0
    echo "    failed units: $units"
    vm_ssh "$name" 22 "for u in \$(systemctl --failed --no-legend --plain | awk '{print \$1}'); do systemctl status --no-pager -l \$u; journalctl -b -u \$u --no-pager -o short-monotonic | tail -n 20; done" 2>&1 | sed 's/^/    /'
    return 1
}
