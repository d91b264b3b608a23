#!/bin/bash
# Builds a guest disk laid out the way the Debian installer leaves one, booted by the
# firmware (SeaBIOS) and GRUB in its own MBR, for offroot's VM tests.
#
#   build-layout.sh --packages SUITE INIT LAYOUT       print the extra packages of LAYOUT
#   build-layout.sh --build SUITE INIT LAYOUT OUT      build the raw disk image into OUT,
#                                                      and OUT.parts (see below)
#
# How: the bare ext4 base image of SUITE/INIT (vm_base_image, the tree mmdebstrap built with
# build-image.sh's packages and customize step) gets LAYOUT's packages (grub-pc, lvm2, ...)
# by apt in a chroot (vm_image_run). That tree then boots once as a builder VM, with an
# empty sparse disk (the future image) and a pristine copy of the tree attached; inside,
# layout-guest.sh partitions, makes the filesystems/LVs, copies the tree, writes fstab and
# runs grub-install and update-grub chrooted in the new system. The host needs no
# device-mapper, LVM or partitioning tools (this host's kernel has no dm/md): all of that
# runs under the guest's own kernel. Last, the new disk's filesystems are loop-mounted on the
# host by their byte ranges (OUT.parts, below) and update-initramfs -u runs chrooted in them
# (vm_image_run), so that the initramfs has the resume device, the LVM tools, ...
# Called through vm_layout_image in lib.sh, which caches the result under a key that
# includes this file and layout-guest.sh.
# OUT.parts lists the filesystems the host mounts to install packages (vm_prepare), one
# "MOUNTPOINT OFFSET SIZE FSTYPE OPTIONS" a line, / first: byte ranges of the image that
# mount -o loop,offset=,sizelimit= opens like the partition or LV they are.
# luks-lvm and mdraid have no OUT.parts: the host can open neither LUKS2 (no dm-crypt here)
# nor one half of a RAID1 (a write behind md's back leaves the halves different). Their
# initramfs is built inside the builder VM, and vm_prepare boots the guest to install.
# mdraid's second disk (the other half of the mirror, the guest's vdb) is OUT.second.
set -eu

me=build-layout.sh
die() { echo "$me: ERROR: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)

LAYOUT_SIZE=${OFFROOT_VM_LAYOUT_SIZE:-4G}

check_args() {
    case "$1" in bookworm|trixie|testing) ;; *) die "unknown suite '$1' (use bookworm, trixie or testing)";; esac
    case "$2" in systemd|sysvinit) ;; *) die "unknown init '$2' (use systemd or sysvinit)";; esac
    case "$3" in plain|lvm|xfs|btrfs|luks-lvm|mdraid) ;; *) die "unknown layout '$3' (use plain, lvm, xfs, btrfs, luks-lvm or mdraid)";; esac
}

# What the installer adds for LAYOUT: the boot loader, sfdisk (in the builder) and the
# tools the initramfs needs to find the root.
packages() {
    printf '%s\n' grub-pc fdisk
    case "$3" in
    lvm) echo lvm2 ;;
    luks-lvm) printf '%s\n' lvm2 cryptsetup cryptsetup-initramfs ;;
    mdraid) echo mdadm ;;
    xfs) echo xfsprogs ;;
    btrfs) echo btrfs-progs ;;
    esac
}

build() {
    local suite=$1 init=$2 layout=$3 out=$4 name base dir log pkgs src targets
    [ "$(id -u)" = 0 ] || die "must run as root (loop mounts, chroot)"
    case "$out" in /*) ;; *) out=$PWD/$out ;; esac
    [ -d "$(dirname "$out")" ] || die "output directory '$(dirname "$out")' does not exist"
    # shellcheck source=lib.sh
    . "$here/lib.sh"
    vm_setup_traps
    name="build-layout-$suite-$init-$layout"
    base=$(vm_base_image "$suite" "$init") || die "no base image for $suite/$init (see above)"
    vm_prepare "$name" "$base" || die "vm_prepare $name failed"
    dir=$(vm_dir "$name")
    log=$dir/build.log
    pkgs=$(packages "$suite" "$init" "$layout" | paste -sd' ' -)
    echo "$me: installing $pkgs into the $suite/$init tree" >&2
    # shellcheck disable=SC2016 # expanded in the chroot
    vm_image_run "$name" "set -e; apt-get update -q; apt-get install -y -q --no-install-recommends $pkgs" > "$log" 2>&1 \
        || { tail -n 30 "$log" >&2; die "apt-get install $pkgs in the $suite/$init tree failed (log: $log)"; }
    vm_add_disk "$name" "$LAYOUT_SIZE" > /dev/null || die "cannot add the target disk"
    src=$(vm_add_disk "$name" 0 "$dir/disk.img") || die "cannot add the copy of the tree"
    # vda: the tree (booted), vdb: the target, vdc: the pristine tree; mdraid: vdd the second
    # target (extra-2.img), the guest's vdb
    targets=/dev/vdb
    if [ "$layout" = mdraid ]; then
        vm_add_disk "$name" "$LAYOUT_SIZE" > /dev/null || die "cannot add the second target disk"
        targets="/dev/vdb /dev/vdd"
    fi
    vm_boot "$name" || die "the builder VM did not start"
    vm_wait_ssh "$name" 22 "${OFFROOT_VM_BOOT_TIMEOUT:-300}" || die "the builder VM did not come up (serial log: $dir/serial.log)"
    vm_scp_to "$name" 22 "$here/layout-guest.sh" /tmp/layout-guest.sh || die "cannot copy layout-guest.sh into the builder VM"
    echo "$me: laying out $layout in the builder VM" >&2
    OFFROOT_VM_SSH_TIMEOUT=${OFFROOT_VM_INSTALL_TIMEOUT:-1200} \
        vm_ssh "$name" 22 bash /tmp/layout-guest.sh "$layout" /dev/vdc "$targets" >> "$log" 2>&1 \
        || { tail -n 40 "$log" >&2; vm_kill "$name"; die "laying out $layout failed in the builder VM (log: $log, serial: $dir/serial.log)"; }
    grep "^layout-guest.sh: grub.cfg:" "$log" >&2 || true
    sed -n 's/^layout-guest.sh: part //p' "$log" > "$dir/parts"
    sed 's/^/build-layout.sh: part /' "$dir/parts" >&2
    vm_poweroff "$name" 22 || die "the builder VM did not power off"
    rm -f "$src"
    case "$layout" in
    luks-lvm|mdraid)
        # nothing the host can open: the initramfs was built in the builder VM
        [ ! -s "$dir/parts" ] || die "layout-guest.sh reported filesystems for $layout, which the host cannot open (log: $log)"
        if [ "$layout" = mdraid ]; then
            mv -f "$dir/extra-2.img" "$out.second" || die "cannot move the second disk to $out.second"
        fi
        rm -f "$out.parts"
        mv -f "$dir/extra-0.img" "$out.tmp" && mv -f "$out.tmp" "$out" || die "cannot move the image to $out"
        vm_destroy "$name" || true
        echo "$me: built $out" >&2
        return 0 ;;
    esac
    [ "$(head -n 1 "$dir/parts" | cut -d' ' -f1)" = / ] || die "layout-guest.sh reported no root filesystem (log: $log)"
    # The new disk as a layout image of its own: the initramfs rebuilt through its .parts.
    mv -f "$dir/extra-0.img" "$dir/new.disk" && mv -f "$dir/parts" "$dir/new.disk.parts" \
        || die "cannot move the new disk in $dir"
    vm_prepare "$name-initramfs" "$dir/new.disk" || die "vm_prepare of the new disk failed"
    vm_image_run "$name-initramfs" "update-initramfs -u -k all 2>&1" >> "$log" 2>&1 \
        || { tail -n 20 "$log" >&2; die "update-initramfs in the new disk failed (log: $log)"; }
    mv -f "$dir/new.disk.parts" "$out.parts" && mv -f "$(vm_dir "$name-initramfs")/disk.img" "$out.tmp" \
        && mv -f "$out.tmp" "$out" || die "cannot move the image to $out"
    vm_destroy "$name-initramfs" || true
    vm_destroy "$name" || true
    echo "$me: built $out" >&2
}

[ $# -ge 1 ] || die "usage: $me --packages SUITE INIT LAYOUT | --build SUITE INIT LAYOUT OUT"
mode=$1; shift
case "$mode" in
--packages) [ $# -eq 3 ] || die "usage: $me --packages SUITE INIT LAYOUT"
            check_args "$1" "$2" "$3"; packages "$1" "$2" "$3" ;;
--build)    [ $# -eq 4 ] || die "usage: $me --build SUITE INIT LAYOUT OUT"
            check_args "$1" "$2" "$3"; build "$1" "$2" "$3" "$4" ;;
*)          die "unknown mode '$mode' (use --packages or --build)" ;;
esac
