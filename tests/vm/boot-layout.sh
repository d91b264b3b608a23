#!/bin/bash
# Boot on a disk laid out as the Debian installer leaves it (tests/vm/README.md, "Layouts"):
# the offroot package installed and armed in a guest whose disk is partitioned (plain:
# ext4 root and a swap partition; xfs, btrfs: the same with that root, btrfs in subvolume
# @rootfs; lvm: /boot on a partition, root, /var and swap on LVM),
# booted by SeaBIOS and the guest's own GRUB (no -kernel/-initrd):
#   - GRUB booted it: qemu has no -kernel, /proc/cmdline is grub.cfg's line, BOOT_IMAGE=;
#   - sshd on 22, ssh on 1022 with the test key, `offroot status` NORMAL;
#   - swap active, /, /boot and /var mounted from the layout's devices;
#   - `offroot check` says GO;
#   - the cycle: enter (every swap off, nothing of the disk mounted, LVM assembled and
#     free), e2fsck of the root (plain, lvm), return (no failed unit, swap, /boot, /var,
#     the btrfs subvolume, checksums), then a clean poweroff.
#
#   tests/vm/boot-layout.sh DEB SUITE INIT LAYOUT
# Every failure is a counted check or an explicit exit: no set -e.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"
. "$here/checks.sh"

[ $# -eq 4 ] || { echo "usage: boot-layout.sh DEB SUITE INIT LAYOUT (LAYOUT: plain, lvm)" >&2; exit 2; }
deb=$1 suite=$2 init=$3 layout=$4
name="layout-$suite-$init-$layout"
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}

# Where each layout's filesystems and swap are (the guest's names).
mapper=/dev/mapper/offroot--vm--vg
case "$layout" in
plain|xfs|btrfs) mounts="/=/dev/vda1" swapdev=/dev/vda5 ;;
lvm)   mounts="/=$mapper-root /boot=/dev/vda1 /var=$mapper-var" swapdev=$mapper-swap_1 ;;
*) echo "boot-layout.sh: unknown layout '$layout' (use plain, lvm, xfs or btrfs)" >&2; exit 2 ;;
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
lvm)   check "grub.cfg says root=$mapper-root" grep -q "root=$mapper-root " <<< "$want" ;;
*)     check "grub.cfg says root=UUID=" grep -q 'root=UUID=' <<< "$want" ;;
esac
[ "$layout" != btrfs ] || check "grub.cfg says rootflags=subvol=@rootfs" grep -q 'rootflags=subvol=@rootfs ' <<< "$want"

check "ssh on 1022 answers with the key" vm_wait_ssh "$name" 1022 60
status=$(vm_ssh "$name" 1022 offroot status 2>&1) || true
# shellcheck disable=SC2001 # indents every line
echo "$status" | sed 's/^/    /'
check "offroot status in the 1022 session: NORMAL" grep -q '^offroot status: NORMAL' <<< "$status"

# shellcheck disable=SC2016 # expanded by the guest's shell
vm_ssh "$name" 22 'echo "--- swapon --show"; swapon --show; echo "--- findmnt"; findmnt -n -o TARGET,SOURCE,FSTYPE -t ext4,xfs,btrfs; echo "--- fstab"; grep -v "^#" /etc/fstab' | sed 's/^/    /'
swap_is() { vm_ssh "$name" 22 "swapon --show=NAME --noheadings | xargs -r -n1 readlink -f | grep -qx \"\$(readlink -f $1)\""; }
check "swap is active on $swapdev" swap_is "$swapdev"
mounted_from() { vm_ssh "$name" 22 "test \"\$(readlink -f \"\$(findmnt -nvo SOURCE --mountpoint $1)\")\" = \"\$(readlink -f $2)\""; }
for m in $mounts; do
    check "${m%%=*} is mounted from ${m#*=}" mounted_from "${m%%=*}" "${m#*=}"
done
root_subvol() { test "$(vm_ssh "$name" 22 findmnt -no FSROOT --mountpoint /)" = /@rootfs; }
[ "$layout" != btrfs ] || check "/ is the btrfs subvolume @rootfs" root_subvol

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
check "DETACHED: no swap active" test "$(vm_ssh "$name" 1022 'tail -n +2 /proc/swaps | wc -l')" = 0
# The source of each mount: two fields after mountinfo's " - ".
# shellcheck disable=SC2016 # for the guest's awk
disk_mounts='awk '"'"'{ for (i = 7; i <= NF; i++) if ($i == "-") print $(i + 2) }'"'"' /proc/1/mountinfo | grep -E "^/dev/(vd|mapper|dm-)"'
check "DETACHED: no filesystem of the disk in PID 1's mount table" \
    test -z "$(vm_ssh "$name" 1022 "$disk_mounts")"
if [ "$layout" = lvm ]; then
    check "DETACHED: status lists the LVs assembled and free" grep -q 'offroot--vm--vg-root (lvm on vda5): assembled, free' <<< "$status"
fi
root_device=${mounts%% *}
root_device=${root_device#/=}
case "$layout" in
plain|lvm)
    check "the layout's job: e2fsck -f of the unmounted root ($root_device) is clean" \
        vm_ssh "$name" 1022 e2fsck -f -n "$root_device" ;;
*)  echo "# no offline job on $layout yet: xfs_repair and btrfs are not in RAM before tools are brought in at enter" ;;
esac
out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "offroot return" test "$rc" = 0 || exit 1
return_line=$(grep 'NORMAL:' <<< "$out" || true)
check "after return: sshd on 22" vm_wait_ssh "$name" 22 200 || exit 1
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
if [ "$init" = systemd ]; then
    failed_units=$(vm_ssh "$name" 22 systemctl --failed --no-legend --plain)
    check "after return: no failed units${failed_units:+ ($failed_units)}" test -z "$failed_units"
fi
check "after return: swap is active on $swapdev again" swap_is "$swapdev"
for m in $mounts; do
    check "after return: ${m%%=*} is mounted from ${m#*=}" mounted_from "${m%%=*}" "${m#*=}"
done
[ "$layout" != btrfs ] || check "after return: / is the btrfs subvolume @rootfs again" root_subvol
check "after return: every checksum matches" vm_ssh "$name" 22 'sha256sum --quiet -c /root/offroot-layout-sums'
status_after=$(vm_ssh "$name" 1022 offroot status 2>&1 || true)
check "after return: offroot status NORMAL (1022)" grep -q '^offroot status: NORMAL' <<< "$status_after"

check "clean poweroff" vm_poweroff "$name" 22
echo "boot-layout $suite/$init/$layout figures: sshd $(cat "$dir/ssh-ready-22")s after qemu start;" \
    "${enter_line:-no DETACHED line} / ${return_line:-no NORMAL line}"
[ "$failed" -eq 0 ]
