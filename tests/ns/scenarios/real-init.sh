#!/bin/sh
# The real root's /sbin/init in the namespace scenarios.
. /in-namespace.sh
set -u
phase=${1:-}

check_eq "init runs as PID 1 ($phase)" 1 "$$"
check_eq "init runs in the real root ($phase)" real "$(cat /etc/marker)"

stand_in=$(cat /run/stand-in.pid)
door=/proc/$stand_in/root

case "$phase" in
phase1)
    check_eq "run-init passed init its arguments" "arg with space" "${2:-}"
    cat /run/run-init.log
    check "run-init kept rootfs without a warning or an error" \
        sh -c "grep -q 'kept .* entries of the initramfs' /run/run-init.log && ! grep -qE 'warning|error' /run/run-init.log"
    # -d cap_sys_module: bit 16 gone from init's bounding set.
    capbnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/1/status)
    check "run-init -d dropped cap_sys_module from the bounding set" \
        test "$(( 0x$capbnd >> 16 & 1 ))" = 0
    check "rootfs kept busybox (listed)" test -x "$door/bin/busybox"
    check "rootfs kept offroot's binaries (listed)" test -x "$door/usr/lib/offroot/offroot-init"
    check "rootfs kept the manifest" test -f "$door/etc/offroot/manifest"
    check "rootfs lost the kernel modules (not listed)" test ! -e "$door/lib/modules"
    check "rootfs lost udev's rules, kept /usr/lib for what is listed" \
        sh -c "test ! -e '$door/usr/lib/udev' && test -d '$door/usr/lib'"
    check "rootfs lost the initramfs scripts" test ! -e "$door/scripts"
    check "rootfs /dev is the real /dev, no longer a symlink" \
        sh -c "test ! -L '$door/dev' && test -c '$door/dev/null'"
    check_eq "rootfs /dev/pts came along" devpts "$(stat -f -c %T "$door/dev/pts")"
    check "rootfs /proc is bound" test -d "$door/proc/1"
    check "rootfs /sys is bound" test -d "$door/sys/kernel"
    check "rootfs /run is the real /run" test -f "$door/run/stand-in.pid"
    check_eq "from rootfs, /.. is the real root" real "$(chroot "$door" /bin/cat /../etc/marker)"
    check "from rootfs, / is still rootfs" chroot "$door" /bin/test -d /tests
    # The sessions' capped /tmp and home (start-dropbear's, in the
    # initramfs) live on in rootfs, out of the real root's mount table.
    in_sessions_table() { awk -v dir="$1" '$5 == dir { found = 1 } END { exit !found }' "/proc/$stand_in/mountinfo"; }
    check "rootfs /tmp is a mount of its own" in_sessions_table /tmp
    check "rootfs root's home is a mount of its own" in_sessions_table /var/lib/offroot
    check_eq "rootfs /tmp is a tmpfs" tmpfs "$(stat -f -c %T "$door/tmp")"
    check "root's home kept its keys" test -s "$door/var/lib/offroot/.ssh/authorized_keys"
    check "the real init's mount table does not show them" sh -c '! grep -qE "offroot-(tmp|home)" /proc/1/mountinfo'

    # offroot enter, by hand: the real root aside to rootfs:/root ...
    chroot "$door" /bin/mount -o move /.. /root
    check_eq "moved aside: the real root is at rootfs:/root" real "$(chroot "$door" /bin/cat /root/etc/marker)"
    check_eq "moved aside: nothing is on top of rootfs any more" \
        "$(chroot "$door" /bin/stat -c %d:%i /)" "$(chroot "$door" /bin/stat -c %d:%i /..)"

    # ... and the stub over init, started by init's own re-exec.
    mount -o bind "$door/usr/lib/offroot/offroot-init" /sbin/init
    chroot "$door" /bin/sh "/tests/$(cat /run/stub-driver 2>/dev/null || echo stub-driver.sh)" &
    exec 7>/tmp/inherited-fd
    exec /sbin/init --deserialize 7
    ;;
phase2)
    check_eq "the stub handed init the command line's arguments" "phase2 after-dashes" "$*"
    check "the stub is gone from PID 1" sh -c "[ \"\$(stat -L -c %i /proc/1/exe)\" != \"\$(stat -L -c %i $door/usr/lib/offroot/offroot-init)\" ]"
    # A driver that has PID 1 handed back by offroot recover goes on
    # checking after the hand-over.
    check "the driver saw the return" wait_until 30 test -f /run/driver-done
    check "no zombies left" sh -c "! grep -q '^State:.*Z' /proc/[0-9]*/status"
    echo "scenario complete"
    exit 0
    ;;
*)
    echo "not ok - unexpected init arguments: $*"
    exit 1
    ;;
esac
