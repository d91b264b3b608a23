#!/bin/bash
# Runs as root inside the builder VM of tests/vm/build-layout.sh (never on the host): lays out
# the empty TARGET disk(s) the way the Debian installer leaves them for LAYOUT, copies the
# pristine root tree of the SOURCE disk (a bare ext4 guest image, mounted read-only) into it,
# writes fstab by UUID (LVs by /dev/mapper name, as the installer writes them), installs GRUB
# into the target's MBR and runs update-grub from inside the new system. The initramfs is
# rebuilt afterwards by build-layout.sh on the host (natively: ~10x faster than under TCG),
# except for the layouts the host cannot open (luks-lvm: LUKS2 needs dm-crypt; mdraid: a write
# to one half of a mirror behind md's back leaves the halves different): their initramfs is
# built here, chrooted in the target while the stack is assembled, as the installer does.
#
#   layout-guest.sh LAYOUT SOURCE TARGET...      e.g. layout-guest.sh lvm /dev/vdc /dev/vdb
#                                                mdraid: two TARGETs, the mirror's halves
#
# The target is the guest's /dev/vda once it boots on its own. Everything mounted, activated
# or opened here is undone on every exit path. Last, for each filesystem the host has to
# mount (vm_prepare), a line "layout-guest.sh: part MOUNTPOINT OFFSET SIZE FSTYPE OPTIONS"
# (bytes within the disk; a partition, or an LV of one linear segment): build-layout.sh
# keeps them beside the image, so that a host without device-mapper can loop-mount them.
# luks-lvm and mdraid print none (vm_prepare then boots the guest to install packages).
set -eu

me="layout-guest.sh"
die() { echo "$me: ERROR: $*" >&2; exit 1; }
say() { echo "$me: $*" >&2; }

[ $# -ge 3 ] || die "usage: $me LAYOUT SOURCE TARGET..."
layout=$1 src=$2 disk=$3
shift 2

# The installer names the volume group after the host name (offroot-vm); no host ever sees
# it (the builder VM and the guest do), and the name is unlikely to clash anywhere.
VG=offroot-vm-vg
VGMAP=offroot--vm--vg           # the VG's name in /dev/mapper (dashes doubled)
# luks-lvm: the installer names the mapping after the partition as the installed system sees
# it; the key file (no console to type a passphrase at boot) lives where crypttab names it,
# and cryptsetup-initramfs copies it into the initramfs by KEYFILE_PATTERN.
CRYPT=vda5_crypt
KEYFILE=/etc/keys/$CRYPT.key
T=/target S=/source

case "$layout" in
plain|lvm|xfs|btrfs|luks-lvm) [ $# -eq 1 ] || die "$layout takes one target disk" ;;
mdraid) [ $# -eq 2 ] || die "mdraid takes two target disks (the two halves of the mirror)" ;;
*) die "unknown layout '$layout' (known: plain, lvm, xfs, btrfs, luks-lvm, mdraid)" ;;
esac
for d in "$@"; do
    [ -b "$d" ] || die "$d is not a block device (is the disk attached to the builder VM?)"
done
blkid -p "$src" 2>/dev/null | grep -q 'TYPE="ext4"' || die "source $src holds no ext4 filesystem (expected the guest tree image)"
# An empty disk has no signature: blkid -p exits 2.
for d in "$@"; do
    if blkid -p "$d" >/dev/null 2>&1; then die "target $d is not empty: refusing to overwrite it"; fi
done

mounted=""      # mount points, most recent first
vg_made="" crypt_made="" md_made=""
cleanup() {
    local m
    for m in $mounted; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "$me: ERROR: cannot unmount $m" >&2
    done
    # only our own VG, mapping and arrays, by name, top of the stack first
    if [ -n "$vg_made" ]; then
        vgchange -an "$VG" >/dev/null 2>&1 || echo "$me: ERROR: vgchange -an $VG failed" >&2
    fi
    if [ -n "$crypt_made" ]; then
        cryptsetup close "$CRYPT" || echo "$me: ERROR: cryptsetup close $CRYPT failed" >&2
    fi
    for m in $md_made; do
        mdadm --stop "$m" >/dev/null 2>&1 || echo "$me: ERROR: mdadm --stop $m failed" >&2
    done
    rm -f /run/offroot-layout.key
    sync
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mnt() {     # mnt [MOUNT_ARGS...] DEVICE DIR: mount, remembered for cleanup
    local dir=${!#}
    mkdir -p "$dir"
    mount "$@" || die "mount $* failed"
    mounted="$dir $mounted"
}
uuid() { blkid -s UUID -o value "$1" || die "no UUID on $1"; }

# extent DEVICE: "OFFSET SIZE" (bytes) of DEVICE within its disk: a partition, or a
# device-mapper linear target of one segment on a partition (an LV as lvcreate makes it).
extent() {
    local dev name t
    dev=$(readlink -f "$1") && name=${dev##*/}
    if [ -e "/sys/class/block/$name/partition" ]; then
        echo "$(( $(cat "/sys/class/block/$name/start") * 512 )) $(( $(cat "/sys/class/block/$name/size") * 512 ))"
        return
    fi
    t=$(dmsetup table "$dev") || die "dmsetup table $dev failed"
    [ "$(printf '%s\n' "$t" | wc -l)" -eq 1 ] || die "$1 has more than one segment: the host could not loop-mount it"
    # shellcheck disable=SC2086 # the table's fields: START LENGTH linear MAJ:MIN OFFSET
    set -- $t
    [ "$3" = linear ] || die "$dev is a '$3' mapping, not linear"
    [ -e "/sys/dev/block/$4/partition" ] || die "$dev lies on $4, which is not a partition"
    echo "$(( ($(cat "/sys/dev/block/$4/start") + $5) * 512 )) $(( $2 * 512 ))"
}
parts=""
part() { parts="$parts$1 $(extent "$2") $3 $4
"; }   # MOUNTPOINT DEVICE FSTYPE OPTIONS

# --- partitions: msdos, like the installer's guided partitioning on a BIOS machine --------
# plain: vda1 / (bootable), vda2 extended, vda5 swap
# lvm:   vda1 /boot (bootable), vda2 extended, vda5 the LVM physical volume
# luks-lvm: as lvm, vda5 the LUKS2 container of the physical volume
# xfs, btrfs: as plain, with that root filesystem
# mdraid: on each disk (vda, vdb) 1 the half of md0 (/, bootable), 5 the half of md1 (swap)
case "$layout" in
plain|xfs|btrfs) first="size=3584MiB, type=83, bootable" logical="type=82" ;;
lvm)             first="size=512MiB, type=83, bootable"  logical="type=8e" ;;
luks-lvm)        first="size=512MiB, type=83, bootable"  logical="type=83" ;;
mdraid)          first="size=3328MiB, type=fd, bootable" logical="type=fd" ;;
esac
for d in "$@"; do
    say "partitioning $d ($layout)"
    printf '%s\n' 'label: dos' "${d}1 : start=2048, $first" "${d}2 : type=5" "${d}5 : $logical" \
        | sfdisk -q --wipe always "$d" || die "sfdisk $d failed"
done
udevadm settle --timeout=30 || true
for d in "$@"; do
    for p in 1 5; do [ -b "$d$p" ] || die "partition $d$p did not appear after sfdisk"; done
done

# --- filesystems, swap, LVM ----------------------------------------------------------------
rootfs=ext4 rootopts=- subvol=""
case "$layout" in
plain|xfs|btrfs)
    rootdev=${disk}1 swapdev=${disk}5
    case "$layout" in
    plain) mkfs.ext4 -q -F "$rootdev" || die "mkfs.ext4 $rootdev failed" ;;
    xfs)   rootfs=xfs; mkfs.xfs -q -f "$rootdev" || die "mkfs.xfs $rootdev failed" ;;
    btrfs) # the installer puts the root in a subvolume @rootfs
           rootfs=btrfs subvol=@rootfs rootopts=subvol=@rootfs
           mkfs.btrfs -q -f "$rootdev" >/dev/null || die "mkfs.btrfs $rootdev failed"
           mnt "$rootdev" /btrfs-top
           btrfs -q subvolume create /btrfs-top/$subvol || die "btrfs subvolume create $subvol failed"
           umount /btrfs-top && mounted=${mounted/"/btrfs-top "/} ;;
    esac
    mkswap "$swapdev" >/dev/null || die "mkswap $swapdev failed"
    root_fstab="UUID=$(uuid "$rootdev")" swap_fstab="UUID=$(uuid "$swapdev")"
    resume=$swap_fstab
    ;;
lvm|luks-lvm)
    bootdev=${disk}1 pv=${disk}5
    vgs "$VG" >/dev/null 2>&1 && die "a volume group $VG exists already in the builder VM"
    if [ "$layout" = luks-lvm ]; then
        [ ! -e "/dev/mapper/$CRYPT" ] || die "a mapping $CRYPT exists already in the builder VM"
        # A random key file instead of the installer's passphrase: the test boots without a
        # console. argon2id as cryptsetup's default, but 64 MiB and 200 ms: the guests have
        # 1 GiB and emulated CPUs, and the initramfs unlocks with the same cost at every boot.
        (umask 077 && head -c 64 /dev/urandom > /run/offroot-layout.key) || die "cannot write the key file"
        cryptsetup luksFormat -q --type luks2 --pbkdf argon2id --pbkdf-memory 65536 --iter-time 200 \
            --key-file /run/offroot-layout.key "$pv" || die "cryptsetup luksFormat $pv failed"
        cryptsetup open --key-file /run/offroot-layout.key "$pv" "$CRYPT" || die "cryptsetup open $pv failed"
        crypt_made=1 pv=/dev/mapper/$CRYPT
    fi
    pvcreate -q -y "$pv" >/dev/null || die "pvcreate $pv failed"
    vgcreate -q "$VG" "$pv" >/dev/null || die "vgcreate $VG failed"
    vg_made=1
    lvcreate -q -y -L 2G -n root "$VG" >/dev/null || die "lvcreate root failed"
    lvcreate -q -y -L 768M -n var "$VG" >/dev/null || die "lvcreate var failed"
    lvcreate -q -y -l 100%FREE -n swap_1 "$VG" >/dev/null || die "lvcreate swap_1 failed"
    udevadm settle --timeout=30 || true
    rootdev=/dev/mapper/$VGMAP-root vardev=/dev/mapper/$VGMAP-var swapdev=/dev/mapper/$VGMAP-swap_1
    for d in "$bootdev" "$rootdev" "$vardev"; do mkfs.ext4 -q -F "$d" || die "mkfs.ext4 $d failed"; done
    mkswap "$swapdev" >/dev/null || die "mkswap $swapdev failed"
    root_fstab=$rootdev swap_fstab=$swapdev resume=$swapdev
    ;;
mdraid)
    # RAID1 with the installer's metadata 1.2, the host name as its homehost (the arrays'
    # names are offroot-vm:0 and :1). --assume-clean: both halves are new sparse disks, all
    # zeros, so they are in sync already; a resync would write every block of the second.
    for m in /dev/md0 /dev/md1; do [ ! -e "$m" ] || die "$m exists already in the builder VM"; done
    n=0
    for p in 1 5; do
        yes | mdadm --create "/dev/md$n" --run --assume-clean --metadata=1.2 --level=1 \
            --raid-devices=2 --homehost=offroot-vm "$1$p" "$2$p" \
            || die "mdadm --create /dev/md$n of $1$p and $2$p failed"
        md_made="/dev/md$n $md_made" n=$((n + 1))
    done
    udevadm settle --timeout=30 || true
    rootdev=/dev/md0 swapdev=/dev/md1
    mkfs.ext4 -q -F "$rootdev" || die "mkfs.ext4 $rootdev failed"
    mkswap "$swapdev" >/dev/null || die "mkswap $swapdev failed"
    root_fstab="UUID=$(uuid "$rootdev")" swap_fstab="UUID=$(uuid "$swapdev")"
    resume=$swap_fstab
    ;;
esac
# Whether the host can loop-mount the filesystems by their byte ranges (see the top).
case "$layout" in luks-lvm|mdraid) host_opens="" ;; *) host_opens=1 ;; esac
part_if_host() { [ -z "$host_opens" ] || part "$@"; }

# --- the tree --------------------------------------------------------------------------------
mnt -o ro "$src" "$S"
if [ -n "$subvol" ]; then mnt -o "subvol=$subvol" "$rootdev" "$T"; else mnt "$rootdev" "$T"; fi
part_if_host / "$rootdev" "$rootfs" "$rootopts"
[ -z "${bootdev:-}" ] || { mnt "$bootdev" "$T/boot"; part_if_host /boot "$bootdev" ext4 -; }
[ -z "${vardev:-}" ] || { mnt "$vardev" "$T/var"; part_if_host /var "$vardev" ext4 -; }
say "copying the tree from $src"
cp -a "$S/." "$T/" || die "copying the tree into $T failed"
umount "$S" && mounted=${mounted/"$S "/}

# fstab as the installer writes it: "<mount point> was on <device> during installation"
{
    echo '# /etc/fstab: static file system information.'
    echo '#'
    echo '# <file system> <mount point>   <type>  <options>       <dump>  <pass>'
    case "$layout" in
    mdraid)
        echo '# / was on /dev/md0 during installation'
        printf '%s /               ext4    errors=remount-ro 0       1\n' "$root_fstab"
        echo '# swap was on /dev/md1 during installation'
        printf '%s none            swap    sw              0       0\n' "$swap_fstab"
        ;;
    plain|xfs|btrfs)
        echo '# / was on /dev/vda1 during installation'
        case "$layout" in
        plain) printf '%s /               ext4    errors=remount-ro 0       1\n' "$root_fstab" ;;
        xfs)   printf '%s /               xfs     defaults        0       0\n' "$root_fstab" ;;
        btrfs) printf '%s /               btrfs   defaults,subvol=%s 0       0\n' "$root_fstab" "$subvol" ;;
        esac
        echo '# swap was on /dev/vda5 during installation'
        printf '%s none            swap    sw              0       0\n' "$swap_fstab"
        ;;
    lvm|luks-lvm)
        printf '%s /               ext4    errors=remount-ro 0       1\n' "$root_fstab"
        echo '# /boot was on /dev/vda1 during installation'
        printf 'UUID=%s /boot           ext4    defaults        0       2\n' "$(uuid "$bootdev")"
        printf '%s /var            ext4    defaults        0       2\n' "$vardev"
        printf '%s none            swap    sw              0       0\n' "$swap_fstab"
        ;;
    esac
} > "$T/etc/fstab"
# The installer writes the resume device for the initramfs (the swap).
printf 'RESUME=%s\n' "$resume" > "$T/etc/initramfs-tools/conf.d/resume"
printf 'layout=%s\n' "$layout" >> "$T/etc/offroot-test-image"
case "$layout" in
luks-lvm)
    # crypttab as the installer writes it, with the key file instead of "none"; the key and
    # every initramfs that holds it readable by root only (cryptsetup-initramfs' README:
    # KEYFILE_PATTERN in conf-hook, UMASK=0077 for mkinitramfs).
    { install -d -m 0700 "$T${KEYFILE%/*}" && install -m 0400 /run/offroot-layout.key "$T$KEYFILE"; } \
        || die "cannot install the key file in the target"
    printf '%s UUID=%s %s luks,discard\n' "$CRYPT" "$(uuid "${disk}5")" "$KEYFILE" > "$T/etc/crypttab"
    c=$T/etc/cryptsetup-initramfs/conf-hook
    [ -f "$c" ] || die "$c missing: is cryptsetup-initramfs installed in the tree?"
    printf 'KEYFILE_PATTERN="%s"\n' "${KEYFILE%/*}/*.key" >> "$c"
    echo 'UMASK=0077' >> "$T/etc/initramfs-tools/initramfs.conf"
    ;;
mdraid)
    # mdadm.conf as the installer's mkconf leaves it: its defaults and the arrays' ARRAY
    # lines, which the initramfs assembles by (named /dev/mdN, as they are here).
    c=$T/etc/mdadm/mdadm.conf
    [ -f "$c" ] || die "$c missing: is mdadm installed in the tree?"
    sed -i '/^ARRAY /d' "$c"
    mdadm --detail --scan | sed 's#^ARRAY /dev/md/\([0-9]*\) #ARRAY /dev/md\1 #' >> "$c" \
        || die "mdadm --detail --scan failed"
    [ "$(grep -c '^ARRAY /dev/md[01] ' "$c")" -eq 2 ] || die "mdadm.conf does not list md0 and md1: $(grep '^ARRAY' "$c")"
    ;;
esac

# GRUB on the serial console, no menu delay, the kernel's messages on ttyS0.
g=$T/etc/default/grub
[ -f "$g" ] || die "$g missing: is grub-pc installed in the tree?"
sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \
    -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT=""/' \
    -e 's/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX="console=ttyS0,115200 panic=-1"/' \
    -e '/^#\?GRUB_TERMINAL=/d' "$g"
printf '%s\n' 'GRUB_TERMINAL=serial' 'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"' >> "$g"

# --- GRUB, from inside the new system ------------------------------------------------------
for d in dev dev/pts proc sys run; do
    case "$d" in
    proc) mnt -t proc proc "$T/proc" ;;
    sys)  mnt -t sysfs sysfs "$T/sys" ;;
    *)    mnt --bind "/$d" "$T/$d" ;;
    esac
done
in_target() { chroot "$T" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
# The booted guest sees this disk as /dev/vda (mdraid: both, vda and vdb): grub-pc's
# upgrades reinstall there.
case "$layout" in
mdraid) install_devices="/dev/vda, /dev/vdb" ;;
*)      install_devices=/dev/vda ;;
esac
echo "grub-pc grub-pc/install_devices multiselect $install_devices" | in_target debconf-set-selections \
    || die "debconf-set-selections failed"
# mdraid: into both MBRs, so that either disk boots alone.
for d in "$@"; do
    say "grub-install --target=i386-pc $d"
    in_target grub-install --target=i386-pc "$d" || die "grub-install $d failed"
done
say "update-grub"
in_target update-grub || die "update-grub in the target failed"
grep -q 'console=ttyS0,115200' "$T/boot/grub/grub.cfg" || die "grub.cfg lacks console=ttyS0,115200"
grep -m1 -E '^[[:space:]]*linux[[:space:]]' "$T/boot/grub/grub.cfg" | sed "s/^[[:space:]]*/$me: grub.cfg: /" >&2
case "$layout" in
lvm|luks-lvm) grep -q "root=$rootdev " "$T/boot/grub/grub.cfg" || die "grub.cfg does not say root=$rootdev" ;;
*)   grep -q "root=UUID=$(uuid "$rootdev") " "$T/boot/grub/grub.cfg" || die "grub.cfg does not say root=UUID=$(uuid "$rootdev")" ;;
esac
[ -z "$subvol" ] || grep -q "rootflags=subvol=$subvol " "$T/boot/grub/grub.cfg" || die "grub.cfg does not say rootflags=subvol=$subvol"
if [ -z "$host_opens" ]; then
    # The host cannot rebuild this initramfs: here, with the stack assembled as it is at
    # boot (cryptsetup-initramfs and mdadm's hook look at what holds /), as the installer does.
    say "update-initramfs -u -k all (the host cannot open $layout)"
    in_target update-initramfs -u -k all || die "update-initramfs in the target failed"
    for i in "$T"/boot/initrd.img-*; do
        case "$layout" in
        luks-lvm) lsinitramfs "$i" | grep -q "cryptroot/keyfiles/$CRYPT.key" || die "$i holds no key file for $CRYPT"
                  [ "$(stat -c %a "$i")" = 600 ] || die "$i holds the key but is mode $(stat -c %a "$i"), not 600" ;;
        mdraid)   lsinitramfs "$i" | grep -q 'etc/mdadm/mdadm.conf' || die "$i holds no mdadm.conf" ;;
        esac
    done
fi
lsblk -o NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT "$@" >&2 || true
printf '%s' "$parts" | sed "s/^/$me: part /" >&2
say "done: $layout on $disk"
