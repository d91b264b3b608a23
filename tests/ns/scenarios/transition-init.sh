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

echo "scenario complete"
exit 0
