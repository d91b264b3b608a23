# Runs in rootfs while PID 1 becomes offroot-init; it outlives that exec.
. /tests/in-namespace.sh
set -u

# /proc/1/exe reads as the path it was started through (the bind over
# /sbin/init): compare the inode instead.
stub_is_pid1() { [ "$(dev_ino /proc/1/exe)" = "$(dev_ino /usr/lib/offroot/offroot-init)" ]; }
check "offroot-init became PID 1" wait_until 20 stub_is_pid1
check_eq "offroot-init escaped the chroot into rootfs" "$(dev_ino /)" "$(dev_ino /proc/1/root)"
check_eq "offroot-init's cwd is rootfs too" "$(dev_ino /)" "$(dev_ino /proc/1/cwd)"
check_eq "offroot-init closed every inherited fd but 0-2" "0 1 2" "$(ls /proc/1/fd | sort -n | tr '\n' ' ' | sed 's/ $//')"

# Orphans are re-parented to PID 1, which must reap them.
for i in 1 2 3; do sh -c 'sleep 0.2 & exit 0'; done
sleep 1
no_zombies() { ! grep -q '^State:.*Z' /proc/[0-9]*/status; }
check "offroot-init reaps orphaned zombies" wait_until 5 no_zombies

kill -TERM 1
kill -HUP 1
kill -INT 1
sleep 0.5
check "offroot-init ignores SIGTERM, SIGHUP, SIGINT" stub_is_pid1

# Early SIGUSR1, with nothing on top of /: the stub must refuse and live on.
kill -USR1 1
sleep 0.5
check "SIGUSR1 without a root on top of / is refused" stub_is_pid1

# DETACHED: a copy into the sessions' /tmp ends at its cap (4 MiB here).
dd if=/dev/zero of=/tmp/fill bs=1024k count=16 2>/run/dd.err
check "a copy into /tmp fails with ENOSPC" grep -q "No space left on device" /run/dd.err
check "the copy stopped at the cap" test "$(stat -c %s /tmp/fill)" -le 4194304
rm -f /tmp/fill /run/dd.err

# DETACHED: the emergency dropbear's watcher (the real one) starts a dead
# dropbear (a stand-in) again, and PID 1 starts a dead watcher again.
mkdir -p /usr/sbin /etc/offroot /run/offroot
ln -sf /usr/lib/offroot/offroot /usr/sbin/offroot
cat > /usr/sbin/dropbear <<'SSHD'
#!/bin/sh
# A daemon named dropbear (a forked subshell keeps the script's name).
( exec </dev/null >/dev/null 2>&1; while :; do sleep 1; done ) &
echo $! > /run/offroot/dropbear.pid
SSHD
chmod 755 /usr/sbin/dropbear
echo '-p 1022' > /etc/offroot/dropbear-options
alive_named() { [ -n "$1" ] && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -q "^$2"; }
listener() { cat /run/offroot/dropbear.pid 2>/dev/null; }
watcher() { cat /run/offroot/watch.pid 2>/dev/null; }
listener_up() { alive_named "$(listener)" /bin/sh && [ "$(listener)" != "${1:-}" ]; }
watcher_up() { alive_named "$(watcher)" @offroot-watch && [ "$(watcher)" != "${1:-}" ]; }
check "offroot watch-sshd starts the watcher" sh -c '/usr/sbin/offroot watch-sshd'
check "the watcher runs as @offroot-watch" wait_until 5 watcher_up
check "the watcher starts the missing listener" wait_until 10 listener_up
first_listener=$(listener)
kill -KILL "$first_listener"
check "the listener killed in DETACHED: the watcher starts it again" wait_until 10 listener_up "$first_listener"
first_watcher=$(watcher)
kill -KILL "$first_watcher"
check "the watcher killed in DETACHED: PID 1 starts it again" wait_until 10 watcher_up "$first_watcher"
check "PID 1 is still offroot-init" stub_is_pid1
second_listener=$(listener)
kill -KILL "$second_listener"
check "the listener killed again: the new watcher starts it again" wait_until 10 listener_up "$second_listener"
# Gone for good: without its pidfile PID 1 leaves the watcher dead.
last_watcher=$(watcher)
rm -f /run/offroot/watch.pid
kill -KILL "$last_watcher" "$(listener)"
sleep 3
check "no pidfile: PID 1 starts no watcher" sh -c '! grep -qs "^@offroot-watch" /proc/[0-9]*/cmdline'

# offroot return, by hand: undo the bind over init, put the root back on
# top of /, signal.
# Lazily: the stub's own text still pins the bind.
umount -l /root/sbin/init
mount -o move /root /
: > /../run/driver-done
kill -USR1 1
