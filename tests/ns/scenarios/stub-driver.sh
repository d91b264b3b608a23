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

# offroot return, by hand: undo the bind over init, put the root back on
# top of /, signal.
# Lazily: the stub's own text still pins the bind.
umount -l /root/sbin/init
mount -o move /root /
: > /../run/driver-done
kill -USR1 1
