#!/bin/bash
# Boot on a disk laid out as the Debian installer leaves it (tests/vm/README.md, "Layouts"):
# the offroot package installed and armed in a guest whose disk is partitioned (plain:
# ext4 root and a swap partition; xfs, btrfs: the same with that root, btrfs in subvolume
# @rootfs; lvm: /boot on a partition, root, /var and swap on LVM),
# booted by SeaBIOS and the guest's own GRUB (no -kernel/-initrd):
#   - GRUB booted it: qemu has no -kernel, /proc/cmdline is grub.cfg's line, BOOT_IMAGE=;
#   - sshd on 22, ssh on 1022 with the test key, `offroot status` NORMAL;
#   - swap active, /, /boot and /var mounted from the layout's devices;
#   - `offroot check` printed (not yet required to say GO), then a clean poweroff.
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
echo "offroot check (exit $rc; 0 = GO, not required yet on layouts):"
sed 's/^/    /' "$dir/check.out"

check "clean poweroff" vm_poweroff "$name" 22
echo "boot-layout $suite/$init/$layout: sshd $(cat "$dir/ssh-ready-22")s after qemu start; offroot check exit $rc"
[ "$failed" -eq 0 ]
