#!/bin/sh
# The real root's /sbin/init in the scenarios that end in the classic switch
# (classic-offroot-off, keep-fails-falls-back): rootfs has been emptied as
# the stock run-init empties it, so the helpers come from the real root.
# usage: init PHASE 'arg with space' -x

# Before writing anything: with -c, run-init reopened the console (here a
# regular file) read-write at offset 0, which would overwrite what it logged
# there. Note where stdin came from, then append.
stdin_was=$(readlink "/proc/$$/fd/0")
exec >>/dev/console 2>&1
. /tests/in-namespace.sh
set -eu
phase=${1:-}

check_eq "init runs as PID 1 ($phase)" 1 "$$"
check_eq "init runs in the real root ($phase)" real "$(cat /etc/marker)"
check_eq "init got three arguments, '-x' included" 3 "$#"
check_eq "init got its argument with a blank" "arg with space" "${2:-}"
check_eq "init got its argument starting with '-'" "-x" "${3:-}"
root_source=$(awk '$5 == "/" { for (i = 7; i < NF; i++) if ($i == "-") print $(i + 2) }' /proc/self/mountinfo)
check_eq "\"/\" is the real root's mount" realroot "$root_source"
check "the real /dev is in place" test -c /dev/null
check_eq "the real /dev/pts is in place" devpts "$(stat -f -c %T /dev/pts)"
check "the real /proc is in place" test -d /proc/1
check "the real /sys is in place" test -d /sys/kernel
check "the real /run is in place" test -f /run/stand-in.pid

# rootfs, through the stand-in that lives there: only mount points remain
# (the real root's old mount point /root among them, now an empty directory).
stand_in=$(cat /run/stand-in.pid)
door=/proc/$stand_in/root
check "rootfs lost busybox" test ! -e "$door/bin/busybox"
check "rootfs lost offroot's binaries" test ! -e "$door/usr/lib/offroot"
check "rootfs lost the manifest" test ! -e "$door/etc/offroot/manifest"
check "rootfs lost the scenario scripts" test ! -e "$door/tests"
check_eq "rootfs holds only its mount points" "console-capture root scratch" "$(ls -A "$door" | tr '\n' ' ' | sed 's/ $//')"
check_eq "the tmpfs mounted in rootfs kept its file" "on a mount in rootfs" "$(cat "$door/scratch/inside")"
check "the console capture is still mounted in rootfs" grep -q ' /console-capture ' "/proc/$stand_in/mountinfo"
check "the tmpfs is still mounted in rootfs" grep -q ' /scratch ' "/proc/$stand_in/mountinfo"
check "emptying rootfs tried nothing across a mount point" sh -c '! grep -q "pruning rootfs" /dev/console'

case "$phase" in
offroot-off)
    check "run-init said why it did not keep rootfs" \
        grep -q 'emergency environment not kept: offroot=off on the kernel command line' /dev/console
    check "the keep path was not tried: no pruning to the manifest" \
        sh -c '! grep -q "kept [0-9]* and removed" /dev/console'
    check_eq "-c gave init the console as stdin" /dev/console "$stdin_was"
    before=$(cat /run/capbnd-before)
    after=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/1/status)
    check_eq "-d cap_sys_module dropped exactly that from the bounding set" \
        "$(( 0x$before & ~(1 << 16) ))" "$(( 0x$after ))"
    ;;
fell-back)
    check "run-init logged the failure of the keep path" \
        grep -q 'keeping the emergency environment (move switch) failed: giving /proc back to rootfs: ' /dev/console
    check "run-init said it boots like the stock run-init" \
        grep -q 'booting without it, like the stock run-init' /dev/console
    check "every undo step succeeded" sh -c '! grep -q "error: undo " /dev/console'
    # Had the bind of /dev into rootfs stayed, rootfs /dev would be a
    # mount point, which emptying rootfs leaves alone.
    check "the /dev bound into rootfs was unmounted (and so emptied away)" test ! -e "$door/dev"
    check "the sabotaged /proc file was emptied away" test ! -e "$door/proc"
    ;;
*)
    echo "not ok - unexpected init arguments: $*"
    exit 1
    ;;
esac

echo "scenario complete"
exit 0
