#!/bin/sh
# The real init for real-image: looks at what the image's run-init kept.
. /in-namespace.sh
set -u
door=/proc/$(cat /run/stand-in.pid)/root

cat /run/run-init.log
check "run-init kept rootfs without a warning or an error" \
    sh -c "grep -q 'kept .* entries of the initramfs' /run/run-init.log && ! grep -qE 'warning|error' /run/run-init.log"

status=$("$door/usr/sbin/offroot" status --json)
echo "$status"
bytes=$(echo "$status" | sed -n 's/.*"rootfs_bytes":\([0-9]*\).*/\1/p')
echo "RAM kept by rootfs: $bytes bytes ($(( bytes / 1024 )) KiB)"
check "status reports NORMAL" sh -c "echo '$status' | grep -q '\"state\":\"NORMAL\"'"
# The budget of every suite (tests/vm/boot-emergency.sh), checked with
# its figure by mkinitramfs-with-hook.sh too.
check "at most 6 MiB kept in RAM" test "${bytes:-999999999}" -le 6291456

check "dropbear was kept and runs" sh -c "chroot '$door' /usr/sbin/dropbear -V 2>&1 | grep -q Dropbear"
check "e2fsprogs were not kept (they come into RAM at enter)" chroot "$door" /bin/sh -c \
    'test ! -e /sbin/e2fsck && test ! -e /sbin/resize2fs && test ! -e /usr/sbin/e2fsck'
check "a busybox shell works in rootfs" sh -c "chroot '$door' /bin/sh -c 'ls / >/dev/null && echo alive' | grep -qx alive"
check "offroot-init was kept" test -x "$door/usr/lib/offroot/offroot-init"
check "the keys were kept" sh -c "test -s '$door/var/lib/offroot/.ssh/authorized_keys' && ls '$door'/etc/offroot/dropbear_*_host_key >/dev/null"
check "the kernel modules are gone" sh -c "! ls '$door'/usr/lib/modules/*/kernel >/dev/null 2>&1"
check "udev is gone" sh -c "test ! -e '$door/usr/lib/udev' && ! ls '$door'/usr/bin/udevadm '$door'/sbin/udevadm >/dev/null 2>&1"
check "the initramfs scripts are gone" test ! -e "$door/scripts"
check "run-init itself is gone" test ! -e "$door/usr/sbin/run-init"
echo "largest kept files:"
chroot "$door" /bin/sh -c 'find / -xdev -type f -exec ls -li {} + 2>/dev/null' | sort -u -k1,1 | sort -k6 -n -r | head -25 | awk '{print "  " $6 " " $10}'
echo "scenario complete"
exit 0
