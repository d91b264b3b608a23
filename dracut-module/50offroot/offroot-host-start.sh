#!/bin/sh
# offroot, after dracut's systemd initrd: runs from the emergency tmpfs
# (offroot-emergency.service chroots into the sessions' bind of it) and
# starts the emergency dropbear and its watcher again, as offroot arm
# starts them. The initrd's were stopped before switch-root.

# Into the root cgroup, out of the unit's, as the emergency dropbear of an
# initramfs-tools boot and of offroot arm: isolating the detached target
# stops the unit. The host's cgroup tree is PID 1's, seen through /proc.
for procs in /proc/1/root/sys/fs/cgroup/cgroup.procs /proc/1/root/sys/fs/cgroup/systemd/cgroup.procs; do
    [ -w "$procs" ] && echo 0 > "$procs" 2>/dev/null && break
done

pid=$(cat /run/offroot/dropbear.pid 2>/dev/null)
if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dropbear ] \
    && [ "$(stat -L -c %d:%i "/proc/$pid/root" 2>/dev/null)" = "$(stat -L -c %d:%i / 2>/dev/null)" ]; then
    echo "offroot: the emergency dropbear runs (pid $pid)"
    exit 0
fi
rm -f /run/offroot/dropbear.pid
options=$(cat /etc/offroot/dropbear-options 2>/dev/null) || {
    echo "offroot: /etc/offroot/dropbear-options is missing in the emergency environment" >&2
    exit 1
}
# argv[0] '@dropbear': systemd's mark for daemons it must not kill.
# shellcheck disable=SC2086 # one argument per option
if ! sh -c 'exec -a @dropbear /usr/sbin/dropbear "$@" 2>/dev/null || exec /usr/sbin/dropbear "$@"' dropbear $options; then
    echo "offroot: the emergency dropbear did not start" >&2
    exit 1
fi
/usr/sbin/offroot watch-sshd || echo "offroot: warning: the emergency dropbear's watcher did not start" >&2
port=$(echo "$options" | sed -n 's/.* -p \([0-9]*\).*/\1/p')
echo "offroot: emergency ssh on port $port again after switch-root (root switch: tmpfs)"
exit 0
