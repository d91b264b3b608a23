#!/bin/sh
# The real root's init for transition-worker: everything runs inside rootfs
# (the 1022 session's view), through the stand-in's /proc/PID/root.
. /in-namespace.sh
set -u
door=/proc/$(cat /run/stand-in.pid)/root
state=$door/var/lib/offroot
in_rootfs() { chroot "$door" "$@"; }
driver=/tests/transition-driver
offroot=/usr/lib/offroot/offroot
worker_pid() { sed -n 's/^PID=//p' "$state/transition" 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }

# --- 1. The session goes: SIGHUP to the follower's whole process group,
# as when the ssh connection drops. setsid: the follower leads a group of
# its own, as a login shell's command does.
setsid chroot "$door" "$driver" enter 1 first second third >/tmp/follow.out 2>&1 &
follower=$!
check "the follower prints the first step as it starts" wait_until 10 grep -q 'enter: first\.\.\.' /tmp/follow.out
worker=$(worker_pid)
check "the record names the worker, not the follower" sh -c "[ -n '$worker' ] && [ '$worker' != '$follower' ]"
check "the worker left the admin's session" sh -c "[ \"\$(cut -d' ' -f6 /proc/$worker/stat)\" = '$worker' ]"
check "the worker's stdin is /dev/null" sh -c "[ \"\$(readlink /proc/$worker/fd/0)\" = /dev/null ]"

status=$(in_rootfs $offroot status)
echo "$status"
check "status shows the running transition and its step" sh -c \
    "echo '$status' | grep -q 'transition running: enter (pid $worker) at step first, started '"

second=$(in_rootfs $offroot return 2>&1)
rc=$?
echo "$second"
check_eq "a return while enter runs: refused as busy" 3 "$rc"
check "the refusal names the running transition, its pid and its step" sh -c \
    "echo '$second' | grep -q 'refusing to return: offroot enter (pid $worker) at step [a-z]*, started .*, is running; follow it with: offroot status'"
in_rootfs $offroot enter >/dev/null 2>&1
check_eq "a second enter: refused as busy" 3 "$?"
in_rootfs "$driver" enter 1 other >/dev/null 2>&1
check_eq "a second worker: refused as busy" 3 "$?"

kill -HUP -- "-$follower"
wait "$follower"
rc=$?
cat /tmp/follow.out
check_eq "the follower cut off by SIGHUP exits 4" 4 "$rc"
check "it says the transition goes on and how to follow it" \
    grep -q "stopped following (SIGHUP); offroot enter goes on in pid $worker. Follow it with: offroot status" /tmp/follow.out
check "the worker outlived its session" alive "$worker"
# Ctrl-C, a terminal's SIGQUIT and SIGTSTP, SIGPIPE: the worker ignores them.
for sig in INT QUIT HUP PIPE TSTP; do kill -"$sig" "$worker"; done
finished() { grep -q "enter: all steps done in pid $worker" "$state/log"; }
check "the worker finished every step" wait_until 15 finished
gone() { ! alive "$worker" && [ ! -e "$state/transition" ]; }
check "and removed its record" wait_until 5 gone
status=$(in_rootfs $offroot status)
check "status: no transition any more" sh -c "! echo '$status' | grep -q '^transition'"

# --- 2. The follower's reader goes away (SIGPIPE, EPIPE): the worker is
# not writing to it, it finishes.
in_rootfs "$driver" return 1 alpha beta | head -n 1 >/tmp/pipe.out
check "the first line reached the reader" grep -q 'return: alpha\.\.\.' /tmp/pipe.out
check "the worker behind a closed pipe finished" grep -q 'return: all steps done' "$state/log"

# --- 3. The worker dies (kill -9): the kernel frees the lock, the record
# stays, status names the step and the command that recovers.
in_rootfs "$driver" enter 1 quick slow slow slow >/tmp/killed.out 2>&1 &
follower=$!
at_slow() { grep -q '^STEP=slow$' "$state/transition" 2>/dev/null; }
check "the record follows the steps" wait_until 10 at_slow
worker=$(worker_pid)
kill -KILL "$worker"
wait "$follower"
rc=$?
cat /tmp/killed.out
check_eq "the follower of a killed worker exits 1" 1 "$rc"
check "it says how the worker died and what recovers" \
    grep -q "the enter worker (pid $worker) was killed by SIGKILL; offroot status says where it stopped, offroot recover" /tmp/killed.out
status=$(in_rootfs $offroot status)
echo "$status"
check "status: interrupted at its step, with the recovery command" sh -c \
    "echo '$status' | grep -q 'transition INTERRUPTED: enter (pid $worker) at step slow, started ' && echo '$status' | grep -q 'To finish or undo it, run: offroot recover'"
json=$(in_rootfs $offroot status --json)
check "status --json: interrupted, with the command" sh -c \
    "echo '$json' | grep -q '\"transition\":{\"name\":\"enter\",\"pid\":$worker,\"step\":\"slow\",\"started\":[0-9]*,\"running\":false,\"interrupted\":true,\"recover\":\"offroot recover\"}'"
refused=$(in_rootfs $offroot return 2>&1)
rc=$?
echo "$refused"
check_eq "return after an interrupted transition: refused" 1 "$rc"
check "the refusal sends the admin to recover" sh -c \
    "echo '$refused' | grep -q 'was interrupted and never finished; run offroot recover first'"

# --- 4. offroot recover: the enter killed before the root moved is undone
# through the init (this scene's init is sysvinit-like: its rc script
# starts the services again).
mkdir -p /etc/init.d
printf '#!/bin/sh\necho "rc $1 $(sed -n "s/^SigIgn:[[:space:]]*//p" /proc/$$/status)" >> /run/rc-started\n' > /etc/init.d/rc
chmod 755 /etc/init.d/rc
recovered=$(in_rootfs $offroot recover 2>&1)
rc=$?
echo "$recovered"
check_eq "recover of the killed enter: done" 0 "$rc"
check "recover started the services again through the init" grep -q '^rc [0-9S]' /run/rc-started
# What the worker ignores is not what the services it starts ignore.
ignored=$(sed -n 's/^rc [^ ]* //p' /run/rc-started)
check "the rc script runs with SIGHUP and SIGPIPE at their defaults" \
    sh -c "[ -n '$ignored' ] && [ \$(( 0x${ignored:-0} & 0x1001 )) = 0 ]"
check "recover said what it found and did" sh -c \
    "echo '$recovered' | grep -q 'recover: offroot enter (pid $worker) at step slow, started .* was interrupted; the system is NORMAL' && echo '$recovered' | grep -q 'recover: enter undone, NORMAL'"
check "the record is gone" test ! -e "$state/transition"
check "a new transition runs again" in_rootfs "$driver" enter 0 again
nothing=$(in_rootfs $offroot recover)
check_eq "recover with nothing interrupted: says so" "offroot recover: no interrupted transition, nothing to do" "$nothing"

# A return killed after the real init took PID 1 back: recover does its tail.
printf 'TRANSITION=return\nPID=4242\nSTEP=wait-for-sshd\nSTARTED=0\n' > "$state/transition"
recovered=$(in_rootfs $offroot recover 2>&1)
rc=$?
echo "$recovered"
check_eq "recover of a return past its hand-over: done" 0 "$rc"
check "it finished the return" sh -c "echo '$recovered' | grep -q 'recover: return finished, NORMAL'"
check "the record is gone again" test ! -e "$state/transition"

# An interrupted recover keeps the original in its record: recovered by
# running recover again.
printf 'TRANSITION=recover\nPID=4243\nSTEP=finish-return\nSTARTED=0\nARG=return\nARG=wait-for-sshd\n' > "$state/transition"
recovered=$(in_rootfs $offroot recover 2>&1)
rc=$?
echo "$recovered"
check_eq "recover of an interrupted recover: done" 0 "$rc"
check "it recovered the original return" sh -c \
    "echo '$recovered' | grep -q 'recover: offroot return (pid 4243) at step wait-for-sshd, started .*, was interrupted' && echo '$recovered' | grep -q 'recover: return finished, NORMAL'"

# An enter killed before it stopped anything: nothing is started.
: > /run/rc-started
printf 'TRANSITION=enter\nPID=4244\nSTEP=bring-tools\nSTARTED=0\n' > "$state/transition"
recovered=$(in_rootfs $offroot recover 2>&1)
check "recover of an enter that stopped nothing: no service started" sh -c \
    "[ ! -s /run/rc-started ] && echo '$recovered' | grep -q 'no service was stopped (step bring-tools)'"

# --- 5. hold-dhcp-leases for real: a stand-in dhclient (a shell under that
# name, with arguments: one with spaces, one empty) is killed and recorded,
# then started again with the same argv, detached, in the real root: by
# enter's own undo, and by recover after the worker was killed.
[ -x "$door/tests/fake-dhclient" ] || { echo "not ok - no shell other than busybox (dash) to play dhclient"; exit 1; }
cp "$door/tests/fake-dhclient" /sbin/dhclient
# In a subshell: orphaned, as a daemonized dhclient is, so that the init
# reaps it once killed.
( /sbin/dhclient -c 'while :; do sleep 1; done' fake-dhclient -4 -pf '/run/dhclient lo.pid' '' lo \
    </dev/null >/dev/null 2>&1 & )
clients() {
    for d in /proc/[0-9]*; do
        [ "$(readlink "$d/exe" 2>/dev/null)" = /sbin/dhclient ] && echo "${d#/proc/}"
    done
}
one_client() { [ "$(clients | wc -l)" -eq 1 ]; }
check "the stand-in dhclient runs" wait_until 5 one_client
old=$(clients)
cat "/proc/$old/cmdline" > /tmp/argv.before
# Started again as enter's undo and recover must: the same argv, in a
# session of its own, stdio on /dev/null and no other descriptor, in the
# real root.
restarted_as_before() {
    new=$(clients)
    [ -n "$new" ] && [ "$new" != "$1" ] && one_client &&
        cmp -s /tmp/argv.before "/proc/$new/cmdline" &&
        [ "$(cut -d' ' -f6 "/proc/$new/stat")" = "$new" ] &&
        [ "$(readlink "/proc/$new/fd/0")" = /dev/null ] && [ "$(readlink "/proc/$new/fd/2")" = /dev/null ] &&
        [ "$(ls "/proc/$new/fd" | tr '\n' ' ')" = "0 1 2 " ] &&
        [ "$(dev_ino "/proc/$new/root")" = "$(dev_ino /)" ]
}

# recover, its output in $recovered and its exit code in $rc; _at: of an
# enter its record says was interrupted at STEP, with pid PID.
run_recover() {
    recovered=$(in_rootfs $offroot recover 2>&1)
    rc=$?
    echo "$recovered"
}
recover_enter_at() {
    printf 'TRANSITION=enter\nPID=%s\nSTEP=%s\nSTARTED=0\n' "$2" "$1" > "$state/transition"
    run_recover
}

undone=$(in_rootfs "$driver" hold-dhcp-leases fail 2>&1)
rc=$?
echo "$undone"
check_eq "an enter failing after hold-dhcp-leases: exit 1" 1 "$rc"
check "it killed the stand-in dhclient" sh -c "! kill -0 $old 2>/dev/null"
check "its undo started it again with the same argv, detached, in the real root" restarted_as_before "$old"
check "and said so" sh -c "echo '$undone' | grep -q 'enter: started dhclient again: /sbin/dhclient -c'"
check "the undo removed the record" test ! -e "$state/dhcp-clients"

old=$(clients)
in_rootfs "$driver" hold-dhcp-leases hang >/tmp/hold.out 2>&1 &
follower=$!
held() { [ "$(grep -c 'enter: hold-dhcp-leases done' "$state/log")" -eq 2 ]; }
check "the second worker held the leases" wait_until 10 held
check "it killed the stand-in again" sh -c "! kill -0 $old 2>/dev/null"
cat "$state/dhcp-clients"
check "the record names it, its interface and its argv, root-only" sh -c \
    "grep -q '^CLIENT=dhclient\$' '$state/dhcp-clients' && grep -q '^IFACE=lo\$' '$state/dhcp-clients' &&
     grep -q '^ARG=/run/dhclient lo.pid\$' '$state/dhcp-clients' && grep -q '^ARG=\$' '$state/dhcp-clients' &&
     [ \"\$(stat -c %a '$state/dhcp-clients')\" = 600 ]"
cp "$state/dhcp-clients" /tmp/dhcp-clients.record
kill -KILL "$(worker_pid)"
wait "$follower"
run_recover
check_eq "recover of the enter killed after hold-dhcp-leases: done" 0 "$rc"
check "recover started the stand-in dhclient again with the same argv, detached, in the real root" \
    restarted_as_before "$old"
check "and said so" sh -c "echo '$recovered' | grep -q 'recover: started dhclient again: /sbin/dhclient -c'"
check "the record is gone once NORMAL" test ! -e "$state/dhcp-clients"

# One that runs already for its interface is not started twice.
cp /tmp/dhcp-clients.record "$state/dhcp-clients"
recover_enter_at hold-dhcp-leases 4246
check "recover leaves a dhclient that runs for lo alone" sh -c \
    "echo '$recovered' | grep -q 'recover: dhclient runs already for lo: not started again'"
check "one dhclient still" one_client
# A malformed record: a warning naming it, nothing started.
printf 'ARG=/sbin/dhclient\n' > "$state/dhcp-clients"
kill -KILL "$(clients)"
recover_enter_at bring-tools 4247
check "a malformed record: recover warns, naming it" sh -c \
    "echo '$recovered' | grep -q 'the record of the DHCP clients enter killed, \"/var/lib/offroot/dhcp-clients\", is malformed (line 1: ARG= before any CLIENT=): none started again'"
check "and starts nothing" sh -c "sleep 1; [ -z \"\$(for d in /proc/[0-9]*; do readlink \$d/exe; done 2>/dev/null | grep -x /sbin/dhclient)\" ]"
rm -f "$state/dhcp-clients"

# --- 6. The stub bound over the init's binary (an enter killed between
# bind-stub and unbind-stub): status names it, recover removes it.
mkdir -p /lib/systemd
cp /bin/busybox /lib/systemd/systemd
stub=$door/usr/lib/offroot/offroot-init
bound() { [ "$(dev_ino /lib/systemd/systemd)" = "$(dev_ino "$stub")" ]; }
mount --bind "$stub" /lib/systemd/systemd
check "the stub is bound over the stand-in init" bound
status=$(in_rootfs $offroot status)
echo "$status"
check "status names the stray bind" sh -c \
    "echo '$status' | grep -q '^stray stub bind: offroot-init is bound over /lib/systemd/systemd (an interrupted enter left it)'"
json=$(in_rootfs $offroot status --json)
check "status --json lists it" sh -c "echo '$json' | grep -q '\"stray_stub_binds\":\\[\"/lib/systemd/systemd\"\\]'"
recover_enter_at unbind-stub 4248
check_eq "recover with the stub bound over init: done" 0 "$rc"
check "recover says it removed the bind" sh -c \
    "echo '$recovered' | grep -q 'recover: removed the bind of offroot-init over /lib/systemd/systemd'"
check "the stand-in init is itself again" cmp -s /bin/busybox /lib/systemd/systemd
check "status no longer names a stray bind" sh -c "! chroot '$door' $offroot status | grep -q 'stray stub bind'"
# Left by an enter before this recover existed: no record, still removed.
mount --bind "$stub" /lib/systemd/systemd
run_recover
check "recover without a record removes a stray bind too" sh -c \
    "cmp -s /bin/busybox /lib/systemd/systemd && ! grep -q ' /lib/systemd/systemd ' /proc/self/mountinfo"

echo "scenario complete"
exit 0
