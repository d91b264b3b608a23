#!/bin/sh
# A stand-in for offroot on a fake host (tests/ansible/window-local.sh): the
# CLI's states, its --json output and its messages, without touching this
# machine. Its state lives in $STATE (set in the copy the test makes of this
# file). "enter" stops the fake host's normal sshd (a dropbear on its own
# port) and its fake service; "return" starts them again. A session on the
# emergency port ($EMERGENCY_PORT) is "in rootfs".
#   $STATE/blocker        check is no-go with this line as its blocker
#   $STATE/refuse-return  return refuses with this line as its reason
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
    status|check|enter|return|arm|disarm) [ -z "$command" ] && command=$a || rest="$rest $a" ;;
    *) rest="$rest $a" ;;
    esac
done
dry_run=false
case " $rest " in *" --dry-run "*) dry_run=true ;; esac
for a in $rest; do
    case "$a" in --dry-run|--fsck|--min-free|--root|/dev/*|[0-9]*) ;;
    *) printf 'offroot: %s: unrecognised option %s\nusage: offroot [--json] COMMAND [OPTIONS]\n' "$command" "'$a'" >&2; exit 2 ;;
    esac
done

status_json() {
    if [ "$state" = DETACHED ]; then exe=/usr/lib/offroot/offroot-init stub=true; else exe=/sbin/init stub=false; fi
    printf '{"state":"%s","explanation":"fake host","pid1":{"exe":"%s","is_offroot_init":%s},"emergency_dropbear_pid":%s,"rootfs_bytes":8409088,"running_in_rootfs":%s,"root_switch":"tmpfs","storage":[]}\n' \
        "$state" "$exe" "$stub" "$(cat "$STATE/emergency.pid")" "$in_rootfs"
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
    echo NORMAL > "$STATE/state"
    echo "offroot: NORMAL: sshd on port 22 answers, 0.2 s after offroot return" >&2
    ;;
*) echo "offroot: the fake does not do $command" >&2; exit 2 ;;
esac
