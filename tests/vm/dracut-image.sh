#!/bin/bash
# Builds a guest image whose initramfs is dracut's: the cached base image of
# SUITE/INIT (vm_base_image, initramfs-tools) with dracut installed by apt in
# a chroot, which removes initramfs-tools (they conflict in Debian) and
# builds /boot/initrd.img-* with dracut, as an admin switching generators
# does. The base images stay as they are (their key has nothing of this).
#
#   dracut-image.sh --packages SUITE INIT       print what is installed (one per line)
#   dracut-image.sh --build SUITE INIT OUT      build OUT (called by vm_dracut_image)
#   dracut-image.sh --build-systemd-initrd sysvinit-SUITE sysvinit OUT
#       the same, but a sysvinit guest keeps dracut's systemd module: its
#       systemd initrd, booted with init=/sbin/init (vm_dracut_image ... systemd-initrd)
#
# dracut is told hostonly="no" (/etc/dracut.conf.d/10-offroot-vm.conf): the
# image is built on this machine but boots in QEMU, whose devices a
# host-only image would not know. systemd guests get dracut's systemd
# initrd; sysvinit guests its shell init (omit_dracutmodules+=" systemd ").
# Called through vm_dracut_image in lib.sh, which caches the result under a
# key that includes this file and the base image's name.
set -eu

me=dracut-image.sh
die() { echo "$me: ERROR: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)

check_args() {
    case "$1" in bookworm|trixie|testing) ;; *) die "unknown suite '$1' (use bookworm, trixie or testing)";; esac
    case "$2" in systemd|sysvinit) ;; *) die "unknown init '$2' (use systemd or sysvinit)";; esac
}

packages() {
    echo dracut
}

build() {
    local suite=$1 init=$2 out=$3 initrd=${4:-} name base dir log pkgs
    [ "$(id -u)" = 0 ] || die "must run as root (loop mounts, chroot)"
    case "$out" in /*) ;; *) out=$PWD/$out ;; esac
    [ -d "$(dirname "$out")" ] || die "output directory '$(dirname "$out")' does not exist"
    # shellcheck source=lib.sh
    . "$here/lib.sh"
    vm_setup_traps
    name="build-dracut-$suite-$init${initrd:+-$initrd}"
    base=$(vm_base_image "$suite" "$init") || die "no base image for $suite/$init (see above)"
    vm_prepare "$name" "$base" || die "vm_prepare $name failed"
    dir=$(vm_dir "$name")
    log=$dir/build.log
    pkgs=$(packages "$suite" "$init" | paste -sd' ' -)
    echo "$me: installing $pkgs into the $suite/$init tree" >&2
    # sysvinit guests: udev pulls in the systemd package (not systemd-sysv), and
    # with its binary there dracut builds a systemd initrd, whose switch-root
    # starts systemd as the guest's init instead of /sbin/init: the admin of a
    # sysvinit host omits dracut's systemd module, and gets its shell init.
    # systemd-initrd: the admin who kept dracut's default, and boots
    # /sbin/init by init= on the kernel command line.
    omit=""
    [ "$init" = sysvinit ] && [ -z "$initrd" ] && omit="'omit_dracutmodules+=\" systemd \"'"
    # shellcheck disable=SC2016 # expanded in the chroot
    vm_image_run "$name" "set -e
        mkdir -p /etc/dracut.conf.d
        printf '%s\n' '# offroot VM guest: built on the host, booted in QEMU' 'hostonly=\"no\"' $omit \
            > /etc/dracut.conf.d/10-offroot-vm.conf
        apt-get update -q
        apt-get install -y -q --no-install-recommends $pkgs
        ! dpkg-query -W -f '\${Status}\n' initramfs-tools 2>/dev/null | grep -q ' installed\$'
        # dracut answered the update-initramfs trigger of its own install.
        for i in /boot/initrd.img-*; do lsinitrd \"\$i\" | grep -q '^dracut' || { echo \"\$i is not dracut's\"; exit 1; }; done
        if [ $init = sysvinit ] && [ -z '$initrd' ]; then
            for i in /boot/initrd.img-*; do ! lsinitrd \"\$i\" | grep -qx systemd || { echo \"\$i is a systemd initrd\"; exit 1; }; done
        fi
        if [ -n '$initrd' ]; then
            for i in /boot/initrd.img-*; do lsinitrd \"\$i\" | grep -qx systemd || { echo \"\$i is not a systemd initrd\"; exit 1; }; done
        fi
        echo 'generator=dracut' >> /etc/offroot-test-image" > "$log" 2>&1 \
        || { tail -n 30 "$log" >&2; die "installing $pkgs in the $suite/$init tree failed (log: $log)"; }
    grep -E '^dracut(-core)? |Generating' "$log" >&2 || true
    cp --sparse=always "$dir/disk.img" "$out.tmp" && mv -f "$out.tmp" "$out" || die "cannot write $out"
    vm_destroy "$name" || true
    echo "$me: built $out" >&2
}

[ $# -ge 1 ] || die "usage: $0 --packages SUITE INIT | --build SUITE INIT OUT | --build-systemd-initrd SUITE sysvinit OUT"
mode=$1; shift
case "$mode" in
--packages) [ $# -eq 2 ] || die "usage: $0 --packages SUITE INIT"
            check_args "$1" "$2"; packages "$1" "$2" ;;
--build)    [ $# -eq 3 ] || die "usage: $0 --build SUITE INIT OUT"
            check_args "$1" "$2"; build "$1" "$2" "$3" ;;
--build-systemd-initrd)
            [ $# -eq 3 ] && [ "$2" = sysvinit ] || die "usage: $0 --build-systemd-initrd SUITE sysvinit OUT"
            check_args "$1" "$2"; build "$1" "$2" "$3" systemd-initrd ;;
*)          die "unknown mode '$mode' (use --packages or --build)" ;;
esac
