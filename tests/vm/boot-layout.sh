#!/bin/bash
# Boot on a disk laid out as the Debian installer leaves it (tests/vm/README.md, "Layouts"):
# the offroot package installed and armed in a guest whose disk is partitioned (plain:
# ext4 root and a swap partition; xfs, btrfs: the same with that root, btrfs in subvolume
# @rootfs; lvm: /boot on a partition, root, /var and swap on LVM; luks-lvm: the same LVM
# inside LUKS2, unlocked at boot by a key file in the initramfs; mdraid: two disks, RAID1
# md0 holding the root and md1 the swap),
# booted by SeaBIOS and the guest's own GRUB (no -kernel/-initrd):
#   - GRUB booted it: qemu has no -kernel, /proc/cmdline is grub.cfg's line, BOOT_IMAGE=;
#   - sshd on 22, ssh on 1022 with the test key, `offroot status` NORMAL;
#   - swap active, /, /boot and /var mounted from the layout's devices;
#   - `offroot check` says GO;
#   - the cycle: enter (every swap off, nothing of the disk mounted, LVM, dm-crypt and md
#     assembled and free), the layout's job with tools brought into RAM at enter (e2fsck;
#     lvs, lvreduce --resizefs; xfs_repair -n; btrfs check; cryptsetup status, lvs;
#     mdadm --detail), return (no failed unit, swap, /boot, /var,
#     each with the mount options it had, the btrfs subvolume, checksums),
#     then a clean poweroff.
#
#   tests/vm/boot-layout.sh DEB SUITE INIT LAYOUT
# Every failure is a counted check or an explicit exit: no set -e.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"
. "$here/checks.sh"

[ $# -eq 4 ] || { echo "usage: boot-layout.sh DEB SUITE INIT LAYOUT (LAYOUT: plain, lvm, xfs, btrfs, luks-lvm, mdraid)" >&2; exit 2; }
deb=$1 suite=$2 init=$3 layout=$4
name="layout-$suite-$init-$layout"
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}

# Where each layout's filesystems and swap are (the guest's names).
mapper=/dev/mapper/offroot--vm--vg
case "$layout" in
plain|xfs|btrfs) mounts="/=/dev/vda1" swapdev=/dev/vda5 ;;
lvm|luks-lvm) mounts="/=$mapper-root /boot=/dev/vda1 /var=$mapper-var" swapdev=$mapper-swap_1 ;;
mdraid) mounts="/=/dev/md0" swapdev=/dev/md1 ;;
*) echo "boot-layout.sh: unknown layout '$layout' (use plain, lvm, xfs, btrfs, luks-lvm or mdraid)" >&2; exit 2 ;;
esac

summary() { checks_summary "boot-layout $suite/$init/$layout"; }
vm_setup_traps
trap 'vm_cleanup; summary' EXIT

[ "$(id -u)" = 0 ] || { fail "must run as root (loop devices, chroot)"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb: build it first (tools/dev.sh test does)"; exit 1; }

t0=$(_vm_now)
img=$(vm_layout_image "$suite" "$init" "$layout") || { fail "layout image $suite/$init/$layout"; exit 1; }
pass "layout image $(basename "$img") (build time $(cat "$img.buildtime" 2>/dev/null || echo '?')s; ready after $(_vm_since "$t0")s)"

t0=$(_vm_now)
offroot_guest "$name" "$suite" "$init" "$deb" "$img" || { fail "an armed $suite/$init/$layout guest with $deb"; exit 1; }
pass "the package installs in the $layout image and update-initramfs with a key arms it ($(_vm_since "$t0")s)"
dir=$(vm_dir "$name")

vm_boot "$name" || { fail "vm_boot"; exit 1; }
no_kernel_option() { ! tr '\0' '\n' < "/proc/$(cat "$dir/qemu.pid")/cmdline" | grep -qxE -- '-kernel|-initrd|-append'; }
check "qemu runs without -kernel/-initrd/-append (firmware boot)" no_kernel_option
if vm_wait_ssh "$name" 22 "$boot_timeout"; then
    pass "sshd on 22 answered $(cat "$dir/ssh-ready-22")s after qemu start"
else
    fail "no sshd on 22"; exit 1
fi
boot_s=$(cat "$dir/ssh-ready-22")
# The figures' RAM: what rootfs keeps in NORMAL, and in DETACHED with the
# layout's tools brought in.
rootfs_mib() { vm_ssh "$name" 1022 offroot status --json 2>/dev/null \
    | sed -n 's/.*"rootfs_bytes":\([0-9]*\).*/\1/p' | awk '{ printf "%.2f", $1 / 1048576 }'; }
ram_normal=$(rootfs_mib)
check "the serial log shows GRUB loading the kernel and the initramfs" \
    grep -aq 'Loading initial ramdisk' "$dir/serial.log"

# /proc/cmdline is "BOOT_IMAGE=" and the arguments of grub.cfg's first (default) linux line.
vm_scp_from "$name" 22 /boot/grub/grub.cfg "$dir/grub.cfg" || fail "copying grub.cfg out"
want="BOOT_IMAGE=$(awk '$1 == "linux" { $1 = ""; sub(/^ +/, ""); print; exit }' "$dir/grub.cfg")"
got=$(vm_ssh "$name" 22 cat /proc/cmdline | tr -s ' ' | sed 's/ *$//')
echo "    grub.cfg:     $want"
echo "    /proc/cmdline: $got"
check "/proc/cmdline is grub.cfg's kernel line (BOOT_IMAGE=, console=ttyS0,115200)" \
    test "$got" = "$want" -a "${got#BOOT_IMAGE=}" != "$got" -a "${got#*console=ttyS0,115200}" != "$got"
case "$layout" in
lvm|luks-lvm) check "grub.cfg says root=$mapper-root" grep -q "root=$mapper-root " <<< "$want" ;;
*)     check "grub.cfg says root=UUID=" grep -q 'root=UUID=' <<< "$want" ;;
esac
[ "$layout" != btrfs ] || check "grub.cfg says rootflags=subvol=@rootfs" grep -q 'rootflags=subvol=@rootfs ' <<< "$want"

check "ssh on 1022 answers with the key" vm_wait_ssh "$name" 1022 60
status=$(vm_ssh "$name" 1022 offroot status 2>&1) || true
# shellcheck disable=SC2001 # indents every line
echo "$status" | sed 's/^/    /'
check "offroot status in the 1022 session: NORMAL" grep -q '^offroot status: NORMAL' <<< "$status"
# grub.cfg and fstab name this root by UUID (or its LV): no false alarm.
check_not "offroot status: no warning about the next reboot" grep -q 'next reboot goes back' <<< "$status"

# shellcheck disable=SC2016 # expanded by the guest's shell
vm_ssh "$name" 22 'echo "--- swapon --show"; swapon --show; echo "--- findmnt"; findmnt -n -o TARGET,SOURCE,FSTYPE -t ext4,xfs,btrfs; echo "--- fstab"; grep -v "^#" /etc/fstab' | sed 's/^/    /'
swap_is() { vm_ssh "$name" 22 "swapon --show=NAME --noheadings | xargs -r -n1 readlink -f | grep -qx \"\$(readlink -f $1)\""; }
check "swap is active on $swapdev" swap_is "$swapdev"
mounted_from() { vm_ssh "$name" 22 "test \"\$(readlink -f \"\$(findmnt -nvo SOURCE --mountpoint $1)\")\" = \"\$(readlink -f $2)\""; }
for m in $mounts; do
    check "${m%%=*} is mounted from ${m#*=}" mounted_from "${m%%=*}" "${m#*=}"
done
# The options each filesystem of the layout is mounted with, as the boot
# left them (fstab's, rootflags=): return must bring back the same.
mount_options() { vm_ssh "$name" 22 findmnt -no OPTIONS --mountpoint "$1"; }
declare -A options_before
for m in $mounts; do
    options_before[${m%%=*}]=$(mount_options "${m%%=*}") || options_before[${m%%=*}]="unreadable"
    echo "    ${m%%=*} options: ${options_before[${m%%=*}]}"
done
root_subvol() { test "$(vm_ssh "$name" 22 findmnt -no FSROOT --mountpoint /)" = /@rootfs; }
[ "$layout" != btrfs ] || check "/ is the btrfs subvolume @rootfs" root_subvol
case "$layout" in
luks-lvm)
    # unlocked by the initramfs with the key file: nobody typed a passphrase
    check "the dm-crypt mapping vda5_crypt (LUKS2 on vda5) is open under the VG" \
        vm_ssh "$name" 22 "cryptsetup status vda5_crypt | grep -q 'type: *LUKS2' && pvs --noheadings -o pv_name | grep -qw /dev/mapper/vda5_crypt"
    check "the initramfs holding the key file is readable by root only (0600)" \
        vm_ssh "$name" 22 'test "$(stat -c %a "/boot/initrd.img-$(uname -r)")" = 600' ;;
mdraid)
    # both halves from both disks (the second attached at every boot), in sync
    # an array nothing has written to yet (swap at boot) is "active (auto-read-only)"
    mdstat=$(vm_ssh "$name" 22 cat /proc/mdstat)
    sed 's/^/    /' <<< "$mdstat"
    md_both_up() {
        [ "$(grep -cE '^md[01] : active (\(auto-read-only\) )?raid1 .*vda[15]' <<< "$mdstat")" = 2 ] &&
            [ "$(grep -cE '^md[01] : active (\(auto-read-only\) )?raid1 .*vdb[15]' <<< "$mdstat")" = 2 ] &&
            [ "$(grep -c '\[2/2\] \[UU\]' <<< "$mdstat")" = 2 ]
    }
    check "md0 and md1 are RAID1 of vda and vdb, both halves up ([2/2] [UU])" md_both_up ;;
esac

rc=0
vm_ssh "$name" 1022 offroot check > "$dir/check.out" 2>&1 || rc=$?
echo "offroot check (exit $rc; 0 = GO):"
sed 's/^/    /' "$dir/check.out"
check "offroot check: GO" test "$rc" = 0

# The cycle on this layout: enter frees every disk (every swap off, every
# filesystem of it unmounted, LVM left assembled), the layout's offline job
# on the root, return brings back the root with its options, swap, /boot
# and /var, every service.
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
vm_ssh "$name" 22 'set -e; for d in / /var; do head -c 4M /dev/urandom > $d/offroot-layout-data; done
    sha256sum /offroot-layout-data /var/offroot-layout-data > /root/offroot-layout-sums; sync' || fail "writing the test data"
out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "offroot enter" test "$rc" = 0 || exit 1
enter_line=$(grep 'DETACHED:' <<< "$out" || true)
status=$(vm_ssh "$name" 1022 offroot status 2>&1) || true
echo "$status" | sed 's/^/    /'
check "DETACHED" grep -q '^offroot status: DETACHED' <<< "$status"
ram_detached=$(rootfs_mib)
check "DETACHED: no swap active" test "$(vm_ssh "$name" 1022 'tail -n +2 /proc/swaps | wc -l')" = 0
# The source of each mount: two fields after mountinfo's " - ".
# shellcheck disable=SC2016 # for the guest's awk
disk_mounts='awk '"'"'{ for (i = 7; i <= NF; i++) if ($i == "-") print $(i + 2) }'"'"' /proc/1/mountinfo | grep -E "^/dev/(vd|mapper|dm-|md)"'
check "DETACHED: no filesystem of the disk in PID 1's mount table" \
    test -z "$(vm_ssh "$name" 1022 "$disk_mounts")"
case "$layout" in
lvm)
    check "DETACHED: status lists the LVs assembled and free" grep -q 'offroot--vm--vg-root (lvm on vda5): assembled, free' <<< "$status" ;;
luks-lvm)
    # the mapping is held by the LVs on it, and nothing else
    check "DETACHED: status lists the dm-crypt mapping assembled, used by the LVs only" \
        grep -qE '^ *vda5_crypt \(crypt on vda5\): (assembled, free|in use: holds dm-[0-9]+)$' <<< "$status"
    check "DETACHED: status lists the LVs on it assembled and free" \
        grep -qE '^ *offroot--vm--vg-root \(lvm on dm-[0-9]+\): assembled, free$' <<< "$status" ;;
mdraid)
    check "DETACHED: status lists md0 (root) assembled and free" grep -qE '^ *md0 \(raid1 on [^)]*\): assembled, free$' <<< "$status"
    check "DETACHED: status lists md1 (swap) assembled and free" grep -qE '^ *md1 \(raid1 on [^)]*\): assembled, free$' <<< "$status" ;;
esac
root_device=${mounts%% *}
root_device=${root_device#/=}
# The layout's tools came into RAM at enter (the resident environment has
# none): each is a wrapper of offroot's at its own path.
from_ram() { vm_ssh "$name" 1022 "grep -q 'brought into RAM by offroot enter' $1"; }
check "DETACHED: e2fsck was brought into RAM at enter" from_ram /usr/sbin/e2fsck
case "$layout" in
plain)
    check "the layout's job: e2fsck -f of the unmounted root ($root_device) is clean" \
        vm_ssh "$name" 1022 e2fsck -f -n "$root_device" ;;
lvm)
    check "DETACHED: lvm was brought into RAM at enter" from_ram /usr/sbin/lvm
    check "the layout's job: lvs sees the volume group with udev gone" \
        vm_ssh "$name" 1022 "lvs --noheadings -o lv_name offroot-vm-vg | grep -qw root"
    check "the layout's job: e2fsck -f of the unmounted root ($root_device) is clean" \
        vm_ssh "$name" 1022 e2fsck -f -y "$root_device"
    # The shrink from RAM: lvm's --resizefs needs /etc/mtab (made while
    # DETACHED), and on Debian 12 fsadm needs coreutils' date and
    # util-linux's fsck, which come with lvm's tools.
    root_size_before=$(vm_ssh "$name" 1022 "lvs --noheadings --units m --nosuffix -o lv_size offroot-vm-vg/root" | tr -d ' ')
    shrink_out=$(vm_ssh "$name" 1022 "lvreduce --resizefs -y -L -256M offroot-vm-vg/root" 2>&1) && rc=0 || rc=$?
    echo "$shrink_out" | sed 's/^/    /'
    check "the layout's job: lvreduce --resizefs shrinks the root LV by 256 MiB" test "$rc" = 0
    root_size_after=$(vm_ssh "$name" 1022 "lvs --noheadings --units m --nosuffix -o lv_size offroot-vm-vg/root" | tr -d ' ')
    echo "# root LV: ${root_size_before:-?} MiB -> ${root_size_after:-?} MiB"
    check "the layout's job: the root LV is 256 MiB smaller" \
        test "${root_size_before%.*}" = "$(( ${root_size_after%.*} + 256 ))"
    check "the layout's job: e2fsck -f of the shrunk root is clean" vm_ssh "$name" 1022 e2fsck -f -n "$root_device" ;;
xfs)
    check "DETACHED: xfs_repair was brought into RAM at enter" from_ram /usr/sbin/xfs_repair
    check "the layout's job: xfs_repair -n of the unmounted root ($root_device) is clean" \
        vm_ssh "$name" 1022 xfs_repair -n "$root_device" ;;
btrfs)
    check "DETACHED: btrfs was brought into RAM at enter" from_ram /usr/bin/btrfs
    check "the layout's job: btrfs check of the unmounted root ($root_device) is clean" \
        vm_ssh "$name" 1022 btrfs check --readonly "$root_device" ;;
luks-lvm)
    # shellcheck disable=SC2016 # the guest's shell finds the tool where enter put it
    check "DETACHED: cryptsetup was brought into RAM at enter" from_ram '"$(command -v cryptsetup)"'
    check "DETACHED: lvm was brought into RAM at enter" from_ram /usr/sbin/lvm
    out=$(vm_ssh "$name" 1022 cryptsetup status vda5_crypt 2>&1) && rc=0 || rc=$?
    echo "$out" | sed 's/^/    /'
    check "the layout's job: cryptsetup status: vda5_crypt is an active LUKS2 mapping of vda5" \
        test "$rc" = 0 -a -n "$(grep -E '^ *type: *LUKS2' <<< "$out")" -a -n "$(grep -E '^ *device: */dev/vda5$' <<< "$out")"
    # lvm names the PV /dev/mapper/vda5_crypt or /dev/dm-N (udev gone): the same device
    # shellcheck disable=SC2016 # expanded by the guest's shell
    check "the layout's job: lvs sees the root LV, pvs the VG on the mapping, with udev gone" \
        vm_ssh "$name" 1022 'lvs --noheadings -o lv_name offroot-vm-vg | grep -qw root &&
            test "$(readlink -f "$(pvs --noheadings -o pv_name -S vg_name=offroot-vm-vg | tr -d " ")")" = "$(readlink -f /dev/mapper/vda5_crypt)"'
    check "the layout's job: e2fsck -f of the unmounted root ($root_device) is clean" \
        vm_ssh "$name" 1022 e2fsck -f -n "$root_device" ;;
mdraid)
    # shellcheck disable=SC2016 # the guest's shell finds the tool where enter put it
    check "DETACHED: mdadm was brought into RAM at enter" from_ram '"$(command -v mdadm)"'
    out=$(vm_ssh "$name" 1022 mdadm --detail /dev/md0 2>&1) && rc=0 || rc=$?
    echo "$out" | sed 's/^/    /'
    check "the layout's job: mdadm --detail /dev/md0: state clean, 2 of 2 devices active and in sync" \
        test "$rc" = 0 -a -n "$(grep -E '^ *State : clean *$' <<< "$out")" \
            -a -n "$(grep -E '^ *Active Devices : 2$' <<< "$out")" \
            -a "$(grep -cE 'active sync +/dev/vd[ab]1$' <<< "$out")" = 2
    check "the layout's job: e2fsck -f of the unmounted root ($root_device) is clean" \
        vm_ssh "$name" 1022 e2fsck -f -n "$root_device" ;;
esac
t_return=$(_vm_now)
out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "offroot return" test "$rc" = 0 || exit 1
return_line=$(grep 'NORMAL:' <<< "$out" || true)
check "after return: sshd on 22" vm_wait_ssh "$name" 22 200 || exit 1
return_s=$(_vm_since "$t_return")
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
if [ "$init" = systemd ]; then
    check "after return: no failed units" no_failed_units "$name"
fi
check "after return: swap is active on $swapdev again" swap_is "$swapdev"
for m in $mounts; do
    check "after return: ${m%%=*} is mounted from ${m#*=}" mounted_from "${m%%=*}" "${m#*=}"
done
same_options() {
    local now
    now=$(mount_options "$1") || return 1
    [ "$now" = "$2" ] || { echo "    $1 was mounted with $2 before enter, now with $now"; return 1; }
}
for m in $mounts; do
    check "after return: ${m%%=*} has the mount options it had before enter (${options_before[${m%%=*}]})" \
        same_options "${m%%=*}" "${options_before[${m%%=*}]}"
done
[ "$layout" != btrfs ] || check "after return: / is the btrfs subvolume @rootfs again" root_subvol
check "after return: every checksum matches" vm_ssh "$name" 22 'sha256sum --quiet -c /root/offroot-layout-sums'
status_after=$(vm_ssh "$name" 1022 offroot status 2>&1 || true)
check "after return: offroot status NORMAL (1022)" grep -q '^offroot status: NORMAL' <<< "$status_after"
check_not "after return: no warning about the next reboot" grep -q 'next reboot goes back' <<< "$status_after"
check "after return: the tools brought in at enter are gone from RAM" \
    vm_ssh "$name" 1022 "test ! -e /usr/lib/offroot/tools && test ! -e /usr/sbin/e2fsck"

t_off=$(_vm_now)
check "clean poweroff" vm_poweroff "$name" 22
shutdown_s=$(_vm_since "$t_off")
# A full reboot of this guest: its shutdown (just now) and its boot through
# the firmware and GRUB to sshd (the first boot above), against the return
# to sshd (from the command to port 22 answering).
reboot_s=$(awk -v a="$shutdown_s" -v b="$boot_s" 'BEGIN { printf "%.1f", a + b }')
echo "boot-layout $suite/$init/$layout figures: sshd ${boot_s}s after qemu start;" \
    "${enter_line:-no DETACHED line} / ${return_line:-no NORMAL line}"
echo "boot-layout $suite/$init/$layout table: return to sshd ${return_s} s | full reboot to sshd ${reboot_s} s" \
    "(shutdown ${shutdown_s} + boot ${boot_s}) | ratio $(awk -v a="$return_s" -v b="$reboot_s" 'BEGIN { printf "%.2f", a / b }')" \
    "| RAM kept ${ram_normal:-?} MiB, DETACHED with the tools ${ram_detached:-?} MiB"
[ "$failed" -eq 0 ]
