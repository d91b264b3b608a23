#!/bin/bash
# Builds real dracut images with offroot's module (from the source and
# build trees) and checks what they hold, in both of dracut's modes: the
# systemd initrd and the shell init (dracut -o systemd). Then images built
# without a key and with a broken configuration, which must be left stock
# and say why. Last, the armed image's boot script runs in namespaces
# (mount, PID, network): the tmpfs at /run/offroot/rootfs, dropbear
# listening on 1022 from it, and the unit for the real root.
#
# This machine runs initramfs-tools, which conflicts with dracut: the
# images are built in a chroot of SUITE (default trixie) with dracut,
# systemd, dropbear-bin, busybox and e2fsprogs, made by mmdebstrap and
# cached as /var/cache/offroot-build/dracut-SUITE-KEY.tar.zst (KEY: the
# suite, the package list and this file; older than
# OFFROOT_BUILD_CHROOT_MAX_DAYS, 7, it is made again). Needs root,
# mmdebstrap, zstd, unshare; the mirror is this machine's apt's.
#
# usage: dracut-image.sh SOURCE_DIR BUILD_RUNTIME_DIR [SUITE]
set -eu

src=$(cd "$1" && pwd)
bin=$(cd "$2" && pwd)
suite=${3:-trixie}
here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")

failures=0
passes=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { failures=$((failures + 1)); echo "not ok - $*"; }
check() {
    description=$1
    shift
    if "$@"; then ok "$description"; else not_ok "$description"; fi
}
die() { echo "dracut-image: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (chroot, mounts)"
for tool in mmdebstrap zstd unshare dropbearkey; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install mmdebstrap zstd util-linux dropbear-bin"
done
case "$suite" in bookworm|trixie|testing) ;; *) die "unknown suite '$suite'" ;; esac

# shellcheck source=../lib/debian-mirror.sh
. "$src/tests/lib/debian-mirror.sh"
mirror=$(debian_mirror) || die "no Debian mirror (see above)"

packages="dracut systemd udev dropbear-bin busybox e2fsprogs cpio kmod zstd binutils"
cache=${OFFROOT_BUILD_CACHE:-/var/cache/offroot-build}
key=$({ printf '%s\n' "$suite" "$packages"; cat "$self"; } | sha256sum | cut -c1-16)
tarball=$cache/dracut-$suite-$key.tar.zst

work=$(mktemp -d "${TMPDIR:-/var/tmp}/offroot-dracut.XXXXXX")
cleanup() {
    if awk -v p="$work/" 'substr($5, 1, length(p)) == p { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        echo "dracut-image: leaving $work: something is mounted below it" >&2
        return 0
    fi
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ -f "$tarball" ] && [ -n "$(find "$tarball" -mtime +"${OFFROOT_BUILD_CHROOT_MAX_DAYS:-7}")" ]; then
    rm -f "$tarball"
fi
if [ ! -f "$tarball" ]; then
    mkdir -p "$cache"
    partial=$cache/.partial-dracut-$suite-$$.tar.zst
    echo "# making the $suite chroot with dracut (cached as $tarball)"
    t0=$(date +%s)
    if ! timeout --kill-after=30 1200 mmdebstrap --mode=root --variant=minbase \
        --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Check-Valid-Until "false"' \
        --include="$(echo "$packages" | tr ' ' ,)" "$suite" "$partial" "$mirror" > "$work/mmdebstrap.log" 2>&1; then
        rm -f "$partial"
        tail -n 30 "$work/mmdebstrap.log" >&2
        die "mmdebstrap of $suite failed"
    fi
    mv -f "$partial" "$tarball"
    for old in "$cache/dracut-$suite"-*.tar.zst; do
        [ "$old" = "$tarball" ] || rm -f "$old"
    done
    echo "# chroot made in $(($(date +%s) - t0)) s"
fi

root=$work/root
mkdir -p "$root"
tar -C "$root" --zstd -xpf "$tarball" || die "cannot unpack $tarball"
# shellcheck disable=SC2016 # dpkg-query's format
dracut_version=$(chroot "$root" dpkg-query -W -f '${Version}' dracut-core 2>/dev/null ||
    chroot "$root" dpkg-query -W -f '${Version}' dracut)

# offroot as the package installs it, from the source and build trees.
install -d "$root/usr/share/offroot" "$root/usr/lib/offroot" "$root/etc/offroot" \
    "$root/usr/lib/dracut/modules.d" "$root/usr/lib/dracut/dracut.conf.d"
install -m 0644 "$src/hooks/offroot-functions" "$root/usr/share/offroot/"
install -m 0755 "$src/hooks/start-dropbear" "$src/hooks/arm" "$root/usr/share/offroot/"
strip -o "$root/usr/sbin/offroot" "$bin/offroot"
strip -o "$root/usr/lib/offroot/run-init" "$bin/run-init"
cp -a "$src/dracut-module/50offroot" "$root/usr/lib/dracut/modules.d/"
install -m 0644 "$src/dracut-module/50-offroot.conf" "$root/usr/lib/dracut/dracut.conf.d/"
install -m 0644 "$src/etc/offroot.conf" "$root/etc/offroot/"
dropbearkey -t ed25519 -f "$root/etc/offroot/dropbear_ed25519_host_key" >/dev/null 2>&1
dropbearkey -t ed25519 -f "$work/client_key" >/dev/null 2>&1
dropbearkey -y -f "$work/client_key" | grep '^ssh-' > "$root/etc/offroot/authorized_keys"
chmod 0600 "$root/etc/offroot/authorized_keys" "$root/etc/offroot/dropbear_ed25519_host_key"

# in_root COMMAND...: COMMAND in the chroot, in mount, PID and network
# namespaces of its own (the mounts go with them).
in_root() {
    unshare --mount --propagation private --pid --fork --net \
        sh -c 'mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && mount -t sysfs sysfs "$0/sys" &&
            mount -t tmpfs tmpfs "$0/run" && exec chroot "$0" "$@"' "$root" "$@"
}

# build NAME [DRACUT_OPTION...]: an image for no kernel (offroot's module
# installs no kernel module) at /tmp/NAME.img in the chroot, unpacked to
# $work/NAME; log in $work/NAME.log.
build() {
    name=$1
    shift
    rm -rf "$work/$name" "$root/tmp/$name.img"
    # An image of the same name already there, readable by all, as
    # initramfs-tools leaves /boot/initrd.img-* to a host that moves to
    # dracut: dracut writes into the existing file, which keeps its mode.
    : > "$root/tmp/$name.img"
    chmod 0644 "$root/tmp/$name.img"
    t0=$(date +%s)
    if ! in_root dracut --no-kernel --kver offroot-test --force "$@" "/tmp/$name.img" > "$work/$name.log" 2>&1; then
        cat "$work/$name.log"
        not_ok "dracut $* builds the $name image"
        return 1
    fi
    echo "# $name: dracut $dracut_version built it in $(($(date +%s) - t0)) s"
    mkdir -p "$work/$name"
    in_root sh -c "mkdir -p /tmp/$name.d && cd /tmp/$name.d && lsinitrd --unpack /tmp/$name.img" > "$work/$name.unpack.log" 2>&1 ||
        { cat "$work/$name.unpack.log"; not_ok "lsinitrd --unpack of the $name image"; return 1; }
    mv "$root/tmp/$name.d" "$work/$name.tree"
}

env=usr/lib/offroot/env
echo "# the systemd initrd, armed"
build systemd
img=$work/systemd.tree
check "the image file is readable by root only (it was 0644 before dracut wrote it)" test "$(stat -c %a "$root/tmp/systemd.img")" = 600
check "the build said nothing about offroot not being armed" sh -c "! grep -q 'offroot: not armed' '$work/systemd.log'"
check "the module is in the image" grep -qx offroot "$img/usr/lib/dracut/modules.txt"
check "it is a systemd initrd" test -e "$img/usr/lib/systemd/systemd"
check "armed for the systemd initrd on port 1022" sh -c \
    "grep -qx PORT=1022 '$img/etc/offroot/armed' && grep -qx MODE=systemd '$img/etc/offroot/armed'"
check "offroot-initrd.service is wanted by sysinit.target" \
    test -e "$img/usr/lib/systemd/system/sysinit.target.wants/offroot-initrd.service"
check "the real root's unit is in the image" test -f "$img/usr/lib/offroot/offroot-emergency.service"
check "the boot script and offroot-functions are in the image" sh -c \
    "test -x '$img/usr/lib/offroot/dracut-start' && test -f '$img/usr/lib/offroot/offroot-functions'"
check "no pre-udev hook in the systemd initrd" sh -c "! ls '$img'/var/lib/dracut/hooks/pre-udev/*offroot* >/dev/null 2>&1"
# e2fsprogs come into RAM at enter (tools on demand), not with the image.
check "the staged environment: offroot, dropbear, busybox, and no e2fsck" sh -c \
    "cmp -s '$img/$env/usr/sbin/offroot' '$root/usr/sbin/offroot' && test -x '$img/$env/usr/sbin/dropbear' &&
     test -x '$img/$env/bin/busybox' && ! test -e '$img/$env/sbin/e2fsck' && ! test -e '$img/$env/usr/sbin/e2fsck'"
check "the staged dropbear runs from the environment (its libraries came along)" sh -c \
    "chroot '$img/$env' /usr/sbin/dropbear -V 2>&1 | grep -q Dropbear"
check "the staged busybox runs from the environment" sh -c "chroot '$img/$env' /bin/sh -c 'echo alive' | grep -qx alive"
check "the staged offroot runs from the environment" sh -c "chroot '$img/$env' /usr/sbin/offroot --help >/dev/null 2>&1"
applets=$(stat -c %h "$img/$env/bin/busybox")
check "busybox's applets are hard links still after dracut's strip and cpio ($applets links)" test "$applets" -gt 100
check "the host key: mode 0600, the configured one" sh -c \
    "test \"\$(stat -c %a '$img/$env/etc/offroot/dropbear_ed25519_host_key')\" = 600 &&
     cmp -s '$img/$env/etc/offroot/dropbear_ed25519_host_key' '$root/etc/offroot/dropbear_ed25519_host_key'"
check "authorized_keys: mode 0600 in a 0700 .ssh, the configured key" sh -c \
    "test \"\$(stat -c %a '$img/$env/var/lib/offroot/.ssh/authorized_keys')\" = 600 &&
     test \"\$(stat -c %a '$img/$env/var/lib/offroot/.ssh')\" = 700 &&
     cmp -s '$img/$env/var/lib/offroot/.ssh/authorized_keys' '$root/etc/offroot/authorized_keys'"
check "the record says tmpfs, the manifest keeps dropbear" sh -c \
    "grep -qx tmpfs '$img/$env/etc/offroot/root-switch' && grep -qx /usr/sbin/dropbear '$img/$env/etc/offroot/manifest'"
check "root is the only user of the environment" grep -qx 'root:x:0:0:root:/var/lib/offroot:/bin/sh' "$img/$env/etc/passwd"
staged_kib=$(du -skx "$img/$env" | cut -f1)
echo "# the staged environment: $staged_kib KiB"
check "the staged environment fits the 9 MiB RAM budget ($staged_kib KiB)" test "$staged_kib" -le 9216
check "the image's own run-init and switch_root are untouched (offroot's run-init is initramfs-tools')" \
    test ! -e "$img/usr/sbin/run-init"

# The boot script of the systemd initrd, in namespaces: the tmpfs, dropbear
# on 1022 from it, the unit for the real root.
boot_env() {
    in_root sh -c '
        set -e
        /usr/lib/offroot/dracut-start
        mountpoint -q /run/offroot/rootfs
        grep -q " /run/offroot/rootfs tmpfs .*size=65536k" /proc/mounts
        mountpoint -q /run/offroot/rootfs/usr/lib/offroot/emergency-root
        sleep 1
        pid=$(cat /run/offroot/dropbear.pid)
        test "$(stat -L -c %d:%i /proc/$pid/root)" = "$(stat -L -c %d:%i /run/offroot/rootfs/usr/lib/offroot/emergency-root)"
        grep -q ":03FE 00000000:0000 0A" /proc/net/tcp /proc/net/tcp6
        test -L /run/systemd/system/sysinit.target.wants/offroot-emergency.service
        test -f /run/systemd/system/offroot-emergency.service
        du -skx /run/offroot/rootfs | cut -f1 > /tmp/held
    ' > "$work/boot.log" 2>&1
}
# with_tree TREE COMMAND...: COMMAND with the image's offroot files in
# place of the chroot's, where the boot script finds them as in the initrd.
with_tree() {
    tree=$1
    shift
    for path in usr/lib/offroot etc/offroot; do
        rm -rf "${root:?}/$path.saved"
        [ -e "$root/$path" ] && mv "$root/$path" "$root/$path.saved"
        cp -a "$tree/$path" "$root/$path"
    done
    rc=0
    "$@" || rc=$?
    for path in usr/lib/offroot etc/offroot; do
        rm -rf "${root:?}/$path"
        [ -e "$root/$path.saved" ] && mv "$root/$path.saved" "$root/$path"
    done
    return "$rc"
}
if with_tree "$img" boot_env; then
    ok "boot script: tmpfs of 64 MiB at /run/offroot/rootfs, dropbear from its sessions' bind listens on 1022, the unit for the real root is in /run/systemd/system"
    echo "# RAM held by the tmpfs after the boot script: $(cat "$root/tmp/held") KiB"
else
    not_ok "boot script: tmpfs, dropbear on 1022, the unit for the real root"
    cat "$work/boot.log"
fi
boot_off() {
    in_root sh -c 'echo "offroot=off quiet" > /tmp/cmdline && mount --bind /tmp/cmdline /proc/cmdline &&
        /usr/lib/offroot/dracut-start && ! mountpoint -q /run/offroot/rootfs' > "$work/off.log" 2>&1
}
if with_tree "$img" boot_off && grep -q 'offroot: disabled by offroot=off' "$work/off.log"; then
    ok "boot script with offroot=off: nothing mounted, and it says so"
else
    not_ok "boot script with offroot=off"
    cat "$work/off.log"
fi

echo "# the shell init (dracut -o systemd), armed"
build shell -o systemd
img=$work/shell.tree
check "shell init: no systemd in the image" test ! -e "$img/usr/lib/systemd/systemd"
check "shell init: armed for the shell init" grep -qx MODE=shell "$img/etc/offroot/armed"
check "shell init: the pre-udev hook starts it" sh -c "ls '$img'/var/lib/dracut/hooks/pre-udev/30-offroot-pre-udev.sh >/dev/null"
check "shell init: no unit" test ! -e "$img/usr/lib/offroot/offroot-emergency.service"
check "shell init: the staged environment is there" test -x "$img/$env/usr/sbin/dropbear"
check "shell init: the image file is readable by root only" test "$(stat -c %a "$root/tmp/shell.img")" = 600

# Each way of not being armed: the image is built stock and says why.
boot_stock() {   # EXPECTED-REASON: the boot script says it, mounts nothing
    in_root sh -c '/usr/lib/offroot/dracut-start && ! mountpoint -q /run/offroot/rootfs' > "$work/stock.log" 2>&1 &&
        grep -q "offroot: not armed in this image: $1" "$work/stock.log"
}
not_armed_case() {   # DESCRIPTION EXPECTED-REASON
    if build case && grep -q "offroot: not armed: $2" "$work/case.log" && grep -q "$2" "$work/case.tree/etc/offroot/not-armed" &&
        [ ! -e "$work/case.tree/etc/offroot/armed" ] && [ ! -e "$work/case.tree/$env" ] &&
        [ -x "$work/case.tree/usr/lib/offroot/dracut-start" ] &&
        with_tree "$work/case.tree" boot_stock "$2"; then
        ok "$1: no environment in the image, and the build and the boot script say why"
    else
        not_ok "$1: no environment in the image, and the build and the boot say why"
        cat "$work/case.log"
    fi
    rm -rf "$work/case.tree"
}
mv "$root/etc/offroot/authorized_keys" "$work/authorized_keys"
not_armed_case "no key" "no key in /etc/offroot/authorized_keys"
mv "$work/authorized_keys" "$root/etc/offroot/authorized_keys"
cp "$root/etc/offroot/offroot.conf" "$work/offroot.conf"
echo 'PORT=1022 "unterminated' > "$root/etc/offroot/offroot.conf"
not_armed_case "configuration broken" "/etc/offroot/offroot.conf is not valid shell"
cp "$work/offroot.conf" "$root/etc/offroot/offroot.conf"
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
