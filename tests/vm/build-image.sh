#!/bin/bash
# Builds a minimal Debian guest root filesystem image for offroot's VM tests.
#
#   build-image.sh --packages SUITE INIT          print the package list (one per line)
#   build-image.sh --build SUITE INIT PUBKEY OUT  build a raw ext4 image into OUT
#   build-image.sh --customize SUITE INIT PUBKEY ROOTDIR   (internal: mmdebstrap hook)
#
# The image is a bare ext4 filesystem (no partition table): the guest sees it as /dev/vda
# and mounts it as /. Normally called through vm_base_image in lib.sh, which caches the
# result under a key that includes this file's content: any edit here rebuilds the images.
set -eu

die() { echo "build-image.sh: ERROR: $*" >&2; exit 1; }

IMAGE_SIZE=${OFFROOT_VM_IMAGE_SIZE:-2G}
# The Debian mirror: this machine's apt's (tests/lib/debian-mirror.sh), or OFFROOT_VM_MIRROR.
. "$(dirname "$0")/../lib/debian-mirror.sh"
MIRROR=${OFFROOT_VM_MIRROR:-}

check_args() {
    case "$1" in bookworm|trixie|testing) ;; *) die "unknown suite '$1' (use bookworm, trixie or testing)";; esac
    case "$2" in systemd|sysvinit) ;; *) die "unknown init '$2' (use systemd or sysvinit)";; esac
}

# The guest's package list. systemd guests use systemd-networkd for DHCP, sysvinit guests
# ifupdown with isc-dhcp-client (bookworm) or dhcpcd-base (trixie and later, where
# isc-dhcp-client is gone).
packages() {
    suite=$1 init=$2
    printf '%s\n' linux-image-amd64 initramfs-tools openssh-server e2fsprogs busybox \
        dropbear-bin procps iproute2 iputils-ping kmod udev less psmisc util-linux \
        ca-certificates
    case "$init" in
    systemd) printf '%s\n' systemd systemd-sysv dbus libpam-systemd ;;
    sysvinit)
        # rsyslog as on the servers: the cycle's log goes to /var/log/syslog.
        printf '%s\n' sysvinit-core sysv-rc initscripts orphan-sysvinit-scripts ifupdown rsyslog
        if [ "$suite" = bookworm ]; then echo isc-dhcp-client; else echo dhcpcd-base; fi ;;
    esac
}

# Runs as mmdebstrap's customize hook: everything is installed, /dev /proc /sys are mounted.
customize() {
    suite=$1 init=$2 pubkey=$3 root=$4
    [ -d "$root/etc" ] || die "customize: '$root' is not a root directory"
    [ -s "$pubkey" ] || die "customize: public key '$pubkey' is missing or empty"

    echo offroot-vm > "$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\toffroot-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
        > "$root/etc/hosts"
    printf '# offroot test VM: the whole disk is the root filesystem\n/dev/vda\t/\text4\terrors=remount-ro\t0\t1\n' \
        > "$root/etc/fstab"
    # QEMU user networking: DNS is 10.0.2.3 (unreachable when the netdev is restricted).
    rm -f "$root/etc/resolv.conf"
    echo 'nameserver 10.0.2.3' > "$root/etc/resolv.conf"

    # root: key-only ssh with the harness's test key
    install -d -m 700 "$root/root/.ssh"
    install -m 600 "$pubkey" "$root/root/.ssh/authorized_keys"
    install -d -m 755 "$root/etc/ssh/sshd_config.d"
    printf '%s\n' 'PermitRootLogin prohibit-password' 'PasswordAuthentication no' \
        'KbdInteractiveAuthentication no' 'UseDNS no' 'GSSAPIAuthentication no' \
        > "$root/etc/ssh/sshd_config.d/offroot-test.conf"
    if [ ! -e "$root/etc/ssh/ssh_host_ed25519_key" ]; then
        chroot "$root" ssh-keygen -A >/dev/null
    fi

    case "$init" in
    systemd)
        install -d -m 755 "$root/etc/systemd/network"
        printf '%s\n' '[Match]' 'Name=en* eth*' '' '[Network]' 'DHCP=ipv4' \
            > "$root/etc/systemd/network/50-offroot-dhcp.network"
        chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1 \
            || die "customize: systemctl enable systemd-networkd failed"
        # Nothing in the guest may reach out on its own (apt timers) or need a clock server.
        for u in apt-daily.timer apt-daily-upgrade.timer; do
            chroot "$root" systemctl mask "$u" >/dev/null 2>&1 || true
        done
        ;;
    sysvinit)
        # QEMU's virtio-net at PCI slot 3 is "ens3"; "eth0" if net.ifnames=0 is used.
        printf '%s\n' 'auto lo' 'iface lo inet loopback' '' \
            'allow-hotplug ens3' 'iface ens3 inet dhcp' '' \
            'allow-hotplug eth0' 'iface eth0 inet dhcp' > "$root/etc/network/interfaces"
        # a serial getty, as systemd would start one from console=ttyS0
        if [ -f "$root/etc/inittab" ] && ! grep -q '^T0:' "$root/etc/inittab"; then
            echo 'T0:23:respawn:/sbin/getty -L ttyS0 115200 vt100' >> "$root/etc/inittab"
        fi
        ;;
    esac

    # Record what was built, for humans reading a guest.
    printf 'suite=%s\ninit=%s\n' "$suite" "$init" > "$root/etc/offroot-test-image"
}

# Removes the build dir; first unmounts whatever an interrupted mmdebstrap left mounted in it
# (/proc, /sys, device binds), so that rm never descends into the host's /dev or /sys.
cleanup_work() {
    w=$1
    [ -d "$w" ] || return 0
    for m in $(awk -v p="$w/" 'substr($5, 1, length(p)) == p { print length($5), $5 }' /proc/self/mountinfo | sort -rn | cut -d' ' -f2); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    if awk -v p="$w/" 'substr($5, 1, length(p)) == p { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        echo "build-image.sh: ERROR: leaving $w in place: something is still mounted below it; unmount it, then remove it" >&2
        return 0
    fi
    rm -rf --one-file-system "$w"
}

build() {
    suite=$1 init=$2 pubkey=$3 out=$4
    command -v mmdebstrap >/dev/null || die "mmdebstrap not found: apt-get install -y mmdebstrap"
    command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found: apt-get install -y e2fsprogs"
    [ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap --mode=root, mkfs)"
    [ -s "$pubkey" ] || die "public key '$pubkey' is missing or empty"
    case "$out" in /*) ;; *) out=$PWD/$out ;; esac
    outdir=$(dirname "$out")
    [ -d "$outdir" ] || die "output directory '$outdir' does not exist"
    [ -n "$MIRROR" ] || MIRROR=$(debian_mirror) || die "no Debian mirror (see above)"

    self=$(readlink -f "$0")
    pubkey=$(readlink -f "$pubkey")
    work=$(mktemp -d "$outdir/.build-$(basename "$out" .ext4).XXXXXX") || die "cannot create a temp dir in '$outdir'"
    trap 'cleanup_work "$work"' EXIT
    trap 'exit 130' INT TERM

    include=$(packages "$suite" "$init" | paste -sd, -)
    echo "build-image.sh: mmdebstrap $suite ($init) into $work/root" >&2
    # The mirror may be a frozen snapshot: testing's Release (Valid-Until) then looks expired.
    # The option also lands in the guest's apt config, which vm_prepare's apt-get needs too.
    if ! mmdebstrap --mode=root --variant=minbase --format=directory \
        --include="$include" \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --customize-hook="'$self' --customize '$suite' '$init' '$pubkey' \"\$1\"" \
        "$suite" "$work/root" "$MIRROR" > "$work/mmdebstrap.log" 2>&1; then
        tail -n 40 "$work/mmdebstrap.log" >&2
        die "mmdebstrap $suite ($init) failed (log above); check the mirror $MIRROR and the package list"
    fi
    ls "$work/root/boot"/vmlinuz-* >/dev/null 2>&1 || die "no kernel in the built tree"
    ls "$work/root/boot"/initrd.img-* >/dev/null 2>&1 || die "no initramfs in the built tree"

    rm -f "$work/img"
    truncate -s "$IMAGE_SIZE" "$work/img"
    mkfs.ext4 -q -F -L offroot-root -d "$work/root" "$work/img" \
        || die "mkfs.ext4 -d into $work/img failed"
    mv -f "$work/img" "$out"
    echo "build-image.sh: built $out" >&2
}

[ $# -ge 1 ] || die "usage: $0 --packages SUITE INIT | --build SUITE INIT PUBKEY OUT"
mode=$1; shift
case "$mode" in
--packages)  [ $# -eq 2 ] || die "usage: $0 --packages SUITE INIT"
             check_args "$1" "$2"; packages "$1" "$2" ;;
--build)     [ $# -eq 4 ] || die "usage: $0 --build SUITE INIT PUBKEY OUT"
             check_args "$1" "$2"; build "$1" "$2" "$3" "$4" ;;
--customize) [ $# -eq 4 ] || die "usage: $0 --customize SUITE INIT PUBKEY ROOTDIR"
             check_args "$1" "$2"; customize "$1" "$2" "$3" "$4" ;;
*)           die "unknown mode '$mode' (use --packages or --build)" ;;
esac
