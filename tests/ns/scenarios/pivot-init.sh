#!/bin/sh
# The real root's /sbin/init in keep-rootfs-pivot: run-init has pivoted
# into the real root; rootfs is a mount at /run/offroot/rootfs.
. /in-namespace.sh
set -u
rootfs=/run/offroot/rootfs

check_eq "init runs as PID 1" 1 "$$"
check_eq "init runs in the real root" real "$(cat /etc/marker)"
cat /run/run-init.log
check "run-init pivoted, without a warning or an error" \
    sh -c "grep -q 'pivoted into /root' /run/run-init.log && ! grep -qE 'warning|error' /run/run-init.log"
mountpoint_of() { awk -v p="$1" '$5 == p { print $9 }' /proc/self/mountinfo; }
check_eq "\"/\" is the real root's mount" realroot "$(mountpoint_of /)"
check "rootfs is a mount at $rootfs" sh -c "awk -v p=$rootfs '\$5 == p { f = 1 } END { exit !f }' /proc/self/mountinfo"
check "rootfs kept the manifest and offroot" sh -c "test -f $rootfs/etc/offroot/manifest && test -x $rootfs/usr/lib/offroot/offroot"
check "rootfs lost the kernel modules (not listed)" test ! -e "$rootfs/lib/modules"
check "rootfs got /proc bound" test -d "$rootfs/proc/1"
check "rootfs got /dev bound" test -c "$rootfs/dev/null"

# The stand-in is still rooted in rootfs (its bind): the pivot took PID 1
# along and left it behind.
stand_in=$(cat /run/stand-in.pid)
door=/proc/$stand_in/root
check "the stand-in still lives in rootfs" test -f "$door/etc/offroot/manifest"
check "the stand-in does not see the real root" test ! -e "$door/etc/marker"
check "the stand-in's /run is the real /run" test -f "$door/run/stand-in.pid"

# offroot's view of it, from the sessions' bind and from the real root.
status=$(chroot "$door" /usr/lib/offroot/offroot status 2>&1)
echo "$status" | sed 's/^/    /'
check "offroot status in the bind: NORMAL" grep -q 'offroot status: NORMAL' <<EOS
$status
EOS
check "offroot status in the bind: root switch pivot" grep -q 'root switch: pivot' <<EOS
$status
EOS
status=$("$rootfs/usr/lib/offroot/offroot" status 2>&1)
check "offroot status in the real root: NORMAL" grep -q 'offroot status: NORMAL' <<EOS
$status
EOS
check "offroot check from the bind does not list rootfs' mounts" \
    sh -c "! chroot '$door' /usr/lib/offroot/offroot check 2>&1 | grep -q '$rootfs'"
echo "scenario complete"
exit 0
