#!/bin/sh
# A stand-in for offroot on a fake host (tests/ansible/window-local.sh): the
# CLI's states, its --json output and its messages, without touching this
# machine. Its state lives in $STATE (set in the copy the test makes of this
# file). "enter" stops the fake host's normal sshd (a dropbear on its own
# port) and its fake service; "return" starts them again. A session on the
# emergency port ($EMERGENCY_PORT) is "in rootfs". The dead-man time limit
# (enter --timeout, extend, confirm) is a record and what status says of
# it; the fake never returns by itself.
#   $STATE/blocker        check is no-go with this line as its blocker
#   $STATE/refuse-return  return refuses with this line as its reason
#   $STATE/time-limit     "LIMIT DEADLINE" (seconds, epoch seconds): the time limit
#   $STATE/calls          every command line, one a line
set -u
STATE=@STATE@
EMERGENCY_PORT=@EMERGENCY_PORT@
args=$*
echo "$args" >> "$STATE/calls"
state=$(cat "$STATE/state")
in_rootfs=false
set -- $SSH_CONNECTION
[ "${4:-}" = "$EMERGENCY_PORT" ] && in_rootfs=true
json=false command="" rest=""
for a in $args; do
    case "$a" in
    --json) json=true ;;
    status|check|enter|return|arm|disarm|extend|confirm) [ -z "$command" ] && command=$a || rest="$rest $a" ;;
    *) rest="$rest $a" ;;
    esac
done
dry_run=false
case " $rest " in *" --dry-run "*) dry_run=true ;; esac
for a in $rest; do
    case "$a" in --dry-run|--fsck|--min-free|--root|--timeout|--sshd-timeout|/dev/*|[0-9]*) ;;
    *) printf 'offroot: %s: unrecognised option %s\nusage: offroot [--json] COMMAND [OPTIONS]\n' "$command" "'$a'" >&2; exit 2 ;;
    esac
done

# The value after OPTION in the command line, or nothing.
option() { set -- "$1" $rest; o=$1; shift; while [ $# -gt 1 ]; do [ "$1" = "$o" ] && { echo "$2"; return; }; shift; done; }
# A duration the module has checked (1h30m) in seconds.
seconds_of() { echo $(($(echo "$1" | sed 's/d/*86400+/g; s/h/*3600+/g; s/m/*60+/g; s/s/+/g; s/+$//'))); }
set_time_limit() { echo "$(seconds_of "$1") $(($(date +%s) + $(seconds_of "$1")))" > "$STATE/time-limit"; }
automatic_return_json() {
    if [ "$state" != NORMAL ] && [ -s "$STATE/time-limit" ]; then
        read -r limit deadline < "$STATE/time-limit"
        printf '{"limit_seconds":%s,"seconds_left":%s,"started":false,"failed":null}' "$limit" "$((deadline - $(date +%s)))"
    else
        printf null
    fi
}
in_emergency_only() {
    $in_rootfs && return 0
    echo "offroot: offroot $command runs in the emergency environment; ssh -p 1022 root@this-host, then offroot $command" >&2
    exit 1
}

status_json() {
    if [ "$state" = DETACHED ]; then exe=/usr/lib/offroot/offroot-init stub=true; else exe=/sbin/init stub=false; fi
    printf '{"state":"%s","explanation":"fake host","pid1":{"exe":"%s","is_offroot_init":%s},"emergency_dropbear_pid":%s,"rootfs_bytes":8409088,"running_in_rootfs":%s,"transition":null,"automatic_return":%s,"sshd_return":null,"root_switch":"tmpfs","storage":[]}\n' \
        "$state" "$exe" "$stub" "$(cat "$STATE/emergency.pid")" "$in_rootfs" "$(automatic_return_json)"
}
check_json() {
    if [ -s "$STATE/blocker" ]; then go=false blockers="\"$(sed 's/["\\]/\\&/g' "$STATE/blocker")\""; else go=true blockers=""; fi
    [ "$state" = NORMAL ] || { go=false; blockers="\"the system is not in NORMAL state but $state: fake host\""; }
    printf '{"go":%s,"state":"%s","init":{"system":"sysvinit","binary":"/sbin/init","reexec":"telinit u"},"root":{"source":"/dev/fake","fs_type":"ext4","disk":"fake"},"blockers":[%s],"notes":[],"deleted_files":[],"written_files":[],"unix_sockets":[],"swaps":[],"loop_devices":[],"other_mounts":[],"processes_on_root":[],"memory":{"available_kib":900000,"needed_kib":65536}}\n' \
        "$go" "$state" "$blockers"
    [ "$go" = true ]
}
plan_json() { printf '{"command":"%s","dry_run":true,"steps":[{"name":"fake","action":"nothing","undo":"nothing"}]}\n' "$1"; }
stop_normal() {
    kill "$(cat "$STATE/ssh22.pid")" 2>/dev/null
    rm -f "$STATE/ssh22.pid" "$STATE/service"
}
start_normal() {
    sh "$STATE/ssh22.cmd"
    date > "$STATE/service"
}

case "$command" in
status) status_json ;;
check) check_json || exit 1 ;;
enter)
    if [ "$state" != NORMAL ] || [ -s "$STATE/blocker" ]; then
        echo "offroot: refusing to enter, nothing was changed:" >&2
        sed 's/^/  - /' "$STATE/blocker" >&2
        exit 1
    fi
    if $dry_run; then plan_json enter; exit 0; fi
    rm -f "$STATE/time-limit"
    timeout=$(option --timeout)
    [ -n "$timeout" ] && set_time_limit "$timeout"
    if ! $in_rootfs; then
        echo "offroot enter continues inside the emergency environment; this session will be closed."
        (sleep 1; stop_normal; echo DETACHED > "$STATE/state") > /dev/null 2>&1 &
        exit 0
    fi
    echo "offroot: stop-services: fake" >&2
    stop_normal
    echo DETACHED > "$STATE/state"
    echo "offroot: DETACHED: /dev/fake is free, 0.1 s after offroot enter (services stopped in 0.0 s)" >&2
    ;;
return)
    if [ "$state" != DETACHED ]; then
        echo "offroot: the system is $state, not DETACHED: nothing to return from" >&2; exit 1
    fi
    if [ -s "$STATE/refuse-return" ]; then
        echo "offroot: refusing to return onto /dev/fake, still DETACHED: $(cat "$STATE/refuse-return")" >&2; exit 1
    fi
    if $dry_run; then plan_json return; exit 0; fi
    start_normal
    rm -f "$STATE/time-limit"
    echo NORMAL > "$STATE/state"
    echo "offroot: NORMAL: sshd on port 22 answers, 0.2 s after offroot return" >&2
    ;;
extend)
    in_emergency_only
    if [ "$state" != DETACHED ]; then
        echo "offroot: the system is $state: the time limit is for a stay off the disk (DETACHED), nothing to extend; offroot enter --timeout DURATION sets one" >&2
        exit 1
    fi
    duration=${rest# }
    if [ -s "$STATE/time-limit" ]; then was="(some were left)"; else was="(there was no time limit)"; fi
    set_time_limit "$duration"
    echo "offroot extend: the automatic return starts in $duration $was; offroot confirm calls it off"
    ;;
confirm)
    in_emergency_only
    if [ ! -e "$STATE/time-limit" ]; then echo "offroot confirm: no time limit is set, nothing to confirm"; exit 0; fi
    rm -f "$STATE/time-limit"
    echo "offroot confirm: no automatic return; the host stays DETACHED until offroot return"
    ;;
*) echo "offroot: the fake does not do $command" >&2; exit 2 ;;
esac
