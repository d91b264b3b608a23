#!/bin/bash
# A migration that lasts (issue 9 part 5), end to end in a `plain` layout guest booted by
# SeaBIOS and its own GRUB: data with checksums on the root (/dev/vda1), then from the 1022
# session `offroot enter`, on the second disk an LVM volume group and a logical volume, the
# root copied onto it, `offroot return --root` onto the LV (which warns that the next reboot
# goes back to the old root), `offroot persist` in the normal system (fstab's root entry by
# UUID, update-initramfs, update-grub, grub-install on the disk grub-pc's debconf names),
# and a full reboot through GRUB that comes up with / on the LV, the checksums intact and no
# warning left.
#
# The copy: dd of the unmounted root, then e2fsck -f, tune2fs -U random, resize2fs. dd keeps
# every byte (extended attributes and file capabilities, hard links, sparse files) with
# busybox and the e2fsprogs that enter always brings into RAM; a file-level copy (mkfs + cp
# -a) would need GNU cp brought in to keep the xattrs. The block copy keeps the UUID, which
# a boot by UUID could then take from either disk, so it gets a fresh one (persist refuses
# while two filesystems share the root's UUID).
#
# What the admin does by hand, and nothing else: lvm2 installed and brought into RAM at
# enter (TOOLS=lvm in /etc/offroot/offroot.conf: the plain layout has no LVM of its own),
# the LVM commands, the copy, and the copy's fstab pointed at the LV (return refuses a copy
# whose fstab names the old root: cycle.sh, cycle 3).
#
#   tests/vm/migrate.sh DEB SUITE INIT
# Every failure is a counted check or an explicit exit: no set -e.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"
. "$here/checks.sh"

[ $# -eq 3 ] || { echo "usage: migrate.sh DEB SUITE INIT" >&2; exit 2; }
deb=$1 suite=$2 init=$3
name="migrate-$suite-$init"
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}
vg=offroot-mig
lv=/dev/$vg/root
lv_mapper=/dev/mapper/offroot--mig-root
# The guest's lvm in RAM: no udev while DETACHED, and /etc/lvm is on the unmounted disk.
lvm_no_udev="devices { obtain_device_list_from_udev = 0 } activation { udev_sync = 0 udev_rules = 0 } backup { backup = 0 archive = 0 }"

summary() { checks_summary "migrate $suite/$init"; }
indent() { sed 's/^/    /'; }
vm_setup_traps
trap 'vm_cleanup; summary' EXIT

[ "$(id -u)" = 0 ] || { fail "must run as root (loop devices, chroot)"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb: build it first (tools/dev.sh test does)"; exit 1; }

img=$(vm_layout_image "$suite" "$init" plain) || { fail "layout image $suite/$init/plain"; exit 1; }
offroot_guest "$name" "$suite" "$init" "$deb" "$img" || { fail "an armed $suite/$init plain guest with $deb"; exit 1; }
dir=$(vm_dir "$name")
# The admin's preparation: the LVM tools in the system (the new initramfs needs them) and
# in RAM at enter.
vm_image_run "$name" "set -e
    apt-get update -q 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends lvm2 2>&1
    sed -i 's/^TOOLS=.*/TOOLS=\"lvm\"/' /etc/offroot/offroot.conf
    grep -qx 'TOOLS=\"lvm\"' /etc/offroot/offroot.conf" > "$dir/prepare.log" 2>&1 \
    || { tail -n 20 "$dir/prepare.log"; fail "installing lvm2 and TOOLS=lvm"; exit 1; }
pass "lvm2 installed, TOOLS=lvm in /etc/offroot/offroot.conf"

second_disk=$(vm_add_disk "$name" 6G) || { fail "a second disk"; exit 1; }
echo "    second disk: $second_disk"
vm_boot "$name" || { fail "vm_boot"; exit 1; }
vm_wait_ssh "$name" 22 "$boot_timeout" || { fail "sshd on 22"; exit 1; }
vm_wait_ssh "$name" 1022 60 || { fail "ssh on 1022"; exit 1; }
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }

# shellcheck disable=SC2016 # expanded by the guest's shell
root_is() { test "$(vm_ssh "$name" 22 'readlink -f "$(findmnt -nvo SOURCE --mountpoint /)"')" = "$(vm_ssh "$name" 22 "readlink -f $1")"; }
check "/ is /dev/vda1 before the migration" root_is /dev/vda1
old_uuid=$(vm_ssh "$name" 22 blkid -s UUID -o value /dev/vda1)
echo "    the old root's UUID: $old_uuid"

# shellcheck disable=SC2016 # expanded by the guest's shell
vm_ssh "$name" 22 'set -e; mkdir -p /srv/data; for i in 1 2 3 4; do head -c 8M /dev/urandom > /srv/data/file$i; done
    cp -a /usr/bin /srv/data/bin-copy; cd /srv/data; find . -type f -exec sha256sum {} + | sort -k2 > /srv/sums; sync' \
    || { fail "writing the test data"; exit 1; }
pass "wrote 32 MiB of random data and a copy of /usr/bin, with checksums"
# A 3.5 GiB dd under TCG outlasts vm_ssh's default time limit.
long_ssh() { OFFROOT_VM_SSH_TIMEOUT=1200 vm_ssh "$name" 1022 "$1"; }
status_is() { vm_ssh "$name" 1022 offroot status 2>/dev/null | grep -q "^offroot status: $1"; }
# status's own verdict (its WARNING: line), not the log's last lines below
# it, where return's warning stays as history.
no_warning() {
    local st
    st=$(vm_ssh "$name" 22 offroot status 2>&1)
    grep -q '^WARNING: the next reboot goes back to' <<< "$st" || return 0
    grep 'the next reboot goes back to' <<< "$st" | sed 's/^/    /'
    vm_ssh "$name" 22 "awk '\$2 == \"/\"' /etc/fstab; grep -m3 '^[[:space:]]*linux' /boot/grub/grub.cfg; cat /proc/cmdline; offroot status --json" 2>&1 | sed 's/^/    /'
    return 1
}
check "before: offroot status has no next-boot warning" no_warning

out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1) && rc=0 || rc=$?
indent <<< "$out"
check "offroot enter" test "$rc" = 0 || exit 1
check "DETACHED" status_is DETACHED || exit 1

# The admin's migration, in the 1022 session.
check "lvm is in RAM (TOOLS=lvm)" vm_ssh "$name" 1022 "lvm version >/dev/null"
check "pvcreate /dev/vdb" vm_ssh "$name" 1022 "lvm pvcreate --config '$lvm_no_udev' -y /dev/vdb"
check "vgcreate $vg /dev/vdb" vm_ssh "$name" 1022 "lvm vgcreate --config '$lvm_no_udev' $vg /dev/vdb"
check "lvcreate -L 4G -n root $vg" vm_ssh "$name" 1022 "lvm lvcreate --config '$lvm_no_udev' -y -Zn -L 4G -n root $vg"
check "the LV is there ($lv_mapper, $lv)" vm_ssh "$name" 1022 "test -b $lv_mapper && test -b $lv"
check "dd of the unmounted root onto the LV" \
    long_ssh "dd if=/dev/vda1 of=$lv_mapper bs=4M conv=fsync"
# e2fsck: 0 clean, 1 corrected; tune2fs -U and resize2fs want a freshly checked filesystem.
fsck_ok() { local rc=0; long_ssh "e2fsck -fy $lv_mapper" || rc=$?; [ "$rc" -le 1 ]; }
check "e2fsck -f of the copy" fsck_ok
check "tune2fs -U random: the copy gets its own UUID" long_ssh "tune2fs -U random $lv_mapper"
check "e2fsck -f after the new UUID" fsck_ok
check "resize2fs: the copy fills the LV" long_ssh "resize2fs $lv_mapper"
# tune2fs came into RAM with e2fsprogs; the environment's busybox blkid
# prints no UUID alone.
new_uuid=$(vm_ssh "$name" 1022 "tune2fs -l $lv_mapper | sed -n 's/^Filesystem UUID: *//p'; mkdir -p /var/lib/offroot/inspect && mount $lv_mapper /var/lib/offroot/inspect")
echo "    the new root's UUID: $new_uuid"
check "the copy's UUID differs from the old root's" test -n "$new_uuid" -a "$new_uuid" != "$old_uuid"
# What the admin must do for return to accept the copy: its fstab names the LV (by path:
# persist turns it into UUID=).
check "the copy's fstab: / from $lv_mapper" vm_ssh "$name" 1022 \
    "sed -i 's|^UUID=$old_uuid\([[:space:]]\)|$lv_mapper\1|' /var/lib/offroot/inspect/etc/fstab &&
     awk '\$2 == \"/\" { print \$1 }' /var/lib/offroot/inspect/etc/fstab | grep -qx $lv_mapper"
vm_ssh "$name" 1022 "umount /var/lib/offroot/inspect" || fail "unmounting the copy"

out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return --root "$lv" 2>&1) && rc=0 || rc=$?
indent <<< "$out"
check "offroot return --root $lv" test "$rc" = 0 || exit 1
check "return warns: the next reboot goes back to the old root (grub.cfg)" \
    grep -q "the next reboot goes back to UUID=$old_uuid (root= in /boot/grub/grub.cfg): run offroot persist" <<< "$out"
check "sshd on 22 answers again" vm_wait_ssh "$name" 22 120
check "the guest now runs from the LV" root_is "$lv_mapper"
check "every checksum matches on the LV" vm_ssh "$name" 22 'cd /srv/data && sha256sum --quiet -c /srv/sums'
status=$(vm_ssh "$name" 22 offroot status 2>&1) || true
indent <<< "$status"
check "offroot status (22) warns that the next reboot goes back to UUID=$old_uuid" \
    grep -q "^WARNING: the next reboot goes back to UUID=$old_uuid" <<< "$status"
json=$(vm_ssh "$name" 1022 offroot --json status 2>&1) || true
check "offroot --json status (1022) names it in next_boot" grep -q "\"goes_back_to\":\"UUID=$old_uuid\"" <<< "$json"

dry=$(vm_ssh "$name" 22 offroot persist --dry-run 2>&1) && rc=0 || rc=$?
indent <<< "$dry"
check "persist --dry-run" test "$rc" = 0
check "persist --dry-run: fstab to UUID=$new_uuid" grep -q "$lv_mapper -> UUID=$new_uuid" <<< "$dry"
check "persist --dry-run: update-initramfs, assembling lvm" grep -q "initramfs: .*(it assembles lvm)" <<< "$dry"
check "persist --dry-run: grub-install on /dev/vda (grub-pc's install_devices)" \
    grep -q "grub-install: install GRUB on /dev/vda (grub-pc's install_devices" <<< "$dry"
check "persist --dry-run changed nothing" vm_ssh "$name" 22 "awk '\$2 == \"/\" { print \$1 }' /etc/fstab | grep -qx $lv_mapper"

out=$(OFFROOT_VM_SSH_TIMEOUT=1200 vm_ssh "$name" 22 offroot persist 2>&1) && rc=0 || rc=$?
indent <<< "$out"
check "offroot persist" test "$rc" = 0 || exit 1
check "fstab's root entry: UUID=$new_uuid, errors=remount-ro kept" vm_ssh "$name" 22 \
    "awk '\$2 == \"/\" { print \$1, \$3, \$4 }' /etc/fstab | grep -qx 'UUID=$new_uuid ext4 errors=remount-ro'"
check "the old fstab kept beside it" vm_ssh "$name" 22 "grep -q '^$lv_mapper' /etc/fstab.offroot-*"
check "grub.cfg: root=$lv_mapper" vm_ssh "$name" 22 "grep -q 'root=$lv_mapper ' /boot/grub/grub.cfg"
# shellcheck disable=SC2016 # expanded by the guest's shell
check "the initramfs holds lvm" vm_ssh "$name" 22 'lsinitramfs "/boot/initrd.img-$(uname -r)" | grep -q "sbin/lvm$"'
check "no next-boot warning after persist" no_warning
check "status's log lines end with persist's" vm_ssh "$name" 22 \
    "offroot status | grep -q 'offroot: persist: done; the next boot takes $lv_mapper'"

boot_id=$(vm_ssh "$name" 22 cat /proc/sys/kernel/random/boot_id)
vm_poweroff "$name" 22 || fail "powered off"
vm_boot "$name" || { fail "vm_boot after persist"; exit 1; }
vm_wait_ssh "$name" 22 "$boot_timeout" || { fail "sshd on 22 after the reboot: look at $dir/serial.log (GRUB, the initramfs' lvm)"; exit 1; }
check "a new boot (boot id changed)" test "$(vm_ssh "$name" 22 cat /proc/sys/kernel/random/boot_id)" != "$boot_id"
check "GRUB booted it (serial log)" grep -aq 'Loading initial ramdisk' "$dir/serial.log"
check "after the reboot / is the LV" root_is "$lv_mapper"
check "/proc/cmdline says root=$lv_mapper" vm_ssh "$name" 22 "grep -q 'root=$lv_mapper ' /proc/cmdline"
check "every checksum matches after the reboot" vm_ssh "$name" 22 'cd /srv/data && sha256sum --quiet -c /srv/sums'
check "no next-boot warning after the reboot" no_warning
check "ssh on 1022 answers with the key" vm_wait_ssh "$name" 1022 60
check "offroot status NORMAL" status_is NORMAL
vm_poweroff "$name" 22 || fail "powered off"
[ "$failed" -eq 0 ]
