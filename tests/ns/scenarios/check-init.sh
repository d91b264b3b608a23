#!/bin/sh
# The real root's init for check-holders: holds files on purpose, then asks
# offroot what holds the root.
. /in-namespace.sh
set -u
door=/proc/$(cat /run/stand-in.pid)/root
offroot=$door/usr/lib/offroot/offroot

mkdir -p /var/tmp
sh -c 'exec 3>/var/tmp/deleted-but-open; rm /var/tmp/deleted-but-open; exec sleep 100000' &
deleted_holder=$!
sh -c 'exec 4>>"/var/tmp/written file"; exec sleep 100000' &
writer=$!
# A filesystem image on the root, attached to a loop device and mounted
# under the root: check must name both.
head -c 4194304 /dev/zero > /var/tmp/disk.img
[ -e /dev/loop-control ] || mknod /dev/loop-control c 10 237
loop=$(losetup -f)
[ -e "$loop" ] || mknod "$loop" b 7 "${loop#/dev/loop}"
losetup "$loop" /var/tmp/disk.img
mke2fs -q "$loop" >/dev/null 2>&1
mkdir -p "/mnt/data disk"
trap 'umount "/mnt/data disk" 2>/dev/null; losetup -d "$loop" 2>/dev/null' EXIT
mount -t ext2 "$loop" "/mnt/data disk"
sleep 0.3

status=$("$offroot" status --json)
echo "$status"
check "status from the real root: NORMAL" sh -c "echo '$status' | grep -q '\"state\":\"NORMAL\"'"
check "status names the emergency dropbear" sh -c "echo '$status' | grep -q '\"emergency_dropbear_pid\":$(cat /run/offroot/dropbear.pid)'"

report=$("$offroot" check --json)
rc=$?
echo "$report"
check_eq "check from the real root: go" 0 "$rc"
check "check names the deleted-but-open file and its holder" sh -c \
    "echo '$report' | grep -q '\"deleted_files\":\[{\"pid\":$deleted_holder,\"comm\":\"sleep\",\"fd\":3,\"path\":\"/var/tmp/deleted-but-open\"}'"
check "check names the writer" sh -c \
    "echo '$report' | grep -q '{\"pid\":$writer,\"comm\":\"sleep\",\"fd\":4,\"path\":\"/var/tmp/written file\"}'"

check "check names the loop device backed by the root" sh -c \
    "echo '$report' | grep -q '\"loop_devices\":\[\"$loop (/var/tmp/disk.img)\"\]'"
check "check names the mount under the root" sh -c \
    "echo '$report' | grep -q '{\"mount_point\":\"/mnt/data disk\",\"fs_type\":\"ext2\",\"source\":\"$loop\"'"

inside=$(chroot "$door" /usr/lib/offroot/offroot check --json)
rc=$?
echo "$inside"
check_eq "check from inside rootfs (the 1022 session): go" 0 "$rc"
check "from rootfs too, the deleted file is found" sh -c "echo '$inside' | grep -q '\"pid\":$deleted_holder,\"comm\":\"sleep\",\"fd\":3'"
check "from rootfs too, the writer is found" sh -c "echo '$inside' | grep -q '\"pid\":$writer,\"comm\":\"sleep\",\"fd\":4'"
check "from rootfs too, the loop device is found" sh -c "echo '$inside' | grep -q '\"loop_devices\":\[\"$loop (/var/tmp/disk.img)\"\]'"
status_inside=$(chroot "$door" /usr/lib/offroot/offroot status --json)
check "status from rootfs: NORMAL, running in rootfs" sh -c \
    "echo '$status_inside' | grep -q '\"state\":\"NORMAL\"' && echo '$status_inside' | grep -q '\"running_in_rootfs\":true'"

plan=$(chroot "$door" /usr/lib/offroot/offroot enter --dry-run)
rc=$?
echo "$plan"
check_eq "enter --dry-run from rootfs: exit 0" 0 "$rc"
check "the plan knows the init system" sh -c "echo '$plan' | grep -q '(init: sysvinit)'"
check "the plan re-executes it with telinit u" sh -c "echo '$plan' | grep -q 'reexec-pid1: telinit u'"
check "the plan binds the stub over PID 1's binary" sh -c "echo '$plan' | grep -q 'bind-stub: bind /usr/lib/offroot/offroot-init over /sbin/init'"
check "the plan unmounts /root/run before the root" sh -c \
    "echo '$plan' | grep -A100 'unmount-submounts: .* /root/run' | grep -q 'unmount-root: umount /root (bounded'"
refused=$(chroot "$door" /usr/lib/offroot/offroot enter --min-free 100000000 2>&1)
rc=$?
check_eq "enter with too little RAM: refused" 1 "$rc"
check "the refusal says why and that nothing changed" sh -c \
    "echo '$refused' | grep -q 'refusing to enter, nothing was changed' && echo '$refused' | grep -q 'not enough RAM'"
check "the refused enter left no trace" test ! -e "$door/var/lib/offroot/detached"

# No keys in the emergency environment: a blocker, and check says so.
rm "$door/var/lib/offroot/.ssh/authorized_keys"
nokeys=$("$offroot" check)
rc=$?
check_eq "without authorized keys: no-go" 1 "$rc"
check "without authorized keys: the blocker says what to do" sh -c \
    "echo '$nokeys' | grep -q 'BLOCKER: no authorized keys in the emergency environment: add a key to /etc/offroot/authorized_keys'"

# Too little RAM: a blocker.
lowmem=$("$offroot" check --min-free 100000000)
rc=$?
check_eq "asking for more RAM than exists: no-go" 1 "$rc"
check "the RAM blocker names the figures" sh -c "echo '$lowmem' | grep -q 'BLOCKER: not enough RAM: '"

kill "$deleted_holder" "$writer"
echo "scenario complete"
exit 0
