#!/bin/sh
# Builds a real initramfs on this machine with offroot's hook and boot
# scripts taken from the source and build trees, unpacks it and checks what
# it holds; then builds one without authorized keys and checks that it is
# left stock. Needs root (chroot into the unpacked image), initramfs-tools
# and an installed kernel (linux-image-cloud-amd64 is enough).
#
# usage: mkinitramfs-with-hook.sh SOURCE_DIR BUILD_RUNTIME_DIR
set -eu

src=$1
bin=$2

failures=0
passes=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { failures=$((failures + 1)); echo "not ok - $*"; }
check() {
    description=$1
    shift
    if "$@"; then ok "$description"; else not_ok "$description"; fi
}
die() { echo "mkinitramfs-with-hook: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (chroot into the unpacked image)"
for tool in mkinitramfs unmkinitramfs dropbearkey cpio; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install initramfs-tools dropbear-bin cpio"
done
kernel=$(ls /lib/modules 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] && [ -f "/boot/config-$kernel" ] || die "no kernel installed: apt-get install linux-image-cloud-amd64"

work=$(mktemp -d /tmp/offroot-hook.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A configuration directory of our own, so that nothing of the machine's
# /etc/initramfs-tools changes: the stock settings, MODULES=list (no
# modules: quick), and offroot's hook and scripts from the source tree.
conf=$work/conf
mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts/init-premount" "$conf/scripts/init-bottom"
cp /etc/initramfs-tools/initramfs.conf "$conf/"
: > "$conf/modules"
echo MODULES=list > "$conf/conf.d/00-test-modules"
# conf-hooks.d is read from /usr/share only: the same settings via conf.d.
cp "$src/initramfs-tools/conf-hooks.d/offroot" "$conf/conf.d/offroot"
cp "$src/initramfs-tools/hooks/zz-offroot" "$conf/hooks/"
cp "$src/initramfs-tools/scripts/init-premount/offroot" "$conf/scripts/init-premount/"
cp "$src/initramfs-tools/scripts/init-bottom/offroot" "$conf/scripts/init-bottom/"

etc=$work/etc
mkdir -p "$etc"
cp "$src/etc/offroot.conf" "$etc/"
dropbearkey -t ed25519 -f "$etc/dropbear_ed25519_host_key" >/dev/null 2>&1
dropbearkey -t ed25519 -f "$work/client_key" >/dev/null 2>&1
dropbearkey -y -f "$work/client_key" | grep '^ssh-' > "$etc/authorized_keys"
chmod 0600 "$etc/authorized_keys" "$etc/dropbear_ed25519_host_key"

# Stripped, as dh_strip ships them: the RAM figure is the package's.
stripped=$work/bin
mkdir -p "$stripped"
for b in offroot run-init ns-fake-init ns-transition-driver; do
    strip -o "$stripped/$b" "$bin/$b"
done
bin=$stripped
export OFFROOT_ETC="$etc" OFFROOT_SHARE="$src/hooks" OFFROOT_SOURCE_SBIN="$bin" OFFROOT_SOURCE_LIB="$bin"

build_image() {
    # mkinitramfs would keep the umask of its caller for the image file.
    umask 0022
    mkinitramfs -d "$conf" -o "$1" "$kernel" > "$1.log" 2>&1 || { cat "$1.log"; die "mkinitramfs failed"; }
    mkdir -p "$2"
    unmkinitramfs "$1" "$2" || die "unmkinitramfs $1 failed"
    # With early microcode the main archive is in main/.
    [ -d "$2/main" ] && echo "$2/main" || echo "$2"
}

echo "# building an armed image for kernel $kernel"
image=$(build_image "$work/armed.img" "$work/armed")
check "the image file is readable by root only (UMASK=0077)" test "$(stat -c %a "$work/armed.img")" = 600
check "the build said nothing about offroot not being armed" sh -c "! grep -q 'offroot: not armed' '$work/armed.img.log'"

check "run-init is offroot's" cmp -s "$image/usr/sbin/run-init" "$bin/run-init"
check "run-init is its own file, not a link to busybox" test "$(stat -c %h "$image/usr/sbin/run-init")" = 1
check "run-init in the image answers as offroot's (-n on a non-mount-point)" sh -c \
    "chroot '$image' /usr/sbin/run-init -n /scripts /sbin/init 2>&1 | grep -q 'is not a mount point'"
check "busybox is intact (its applets still work)" sh -c "chroot '$image' /bin/sh -c 'echo alive' | grep -qx alive"
check "busybox is intact (same file as on the machine)" cmp -s "$image/usr/bin/busybox" /bin/busybox
check "offroot is in the image" cmp -s "$image/usr/sbin/offroot" "$bin/offroot"
check "offroot-init is in the image, as offroot" sh -c \
    "test \"\$(readlink '$image/usr/lib/offroot/offroot-init')\" = ../../sbin/offroot && cmp -s '$image/usr/lib/offroot/offroot-init' '$bin/offroot'"
check "dropbear runs in the image (its libraries came along)" sh -c "chroot '$image' /usr/sbin/dropbear -V 2>&1 | grep -q 'Dropbear'"

check "host key: mode 0600" test "$(stat -c %a "$image/etc/offroot/dropbear_ed25519_host_key")" = 600
check "host key: the one from the configuration" cmp -s "$image/etc/offroot/dropbear_ed25519_host_key" "$etc/dropbear_ed25519_host_key"
check "authorized_keys: mode 0600 in a 0700 .ssh" sh -c \
    "test \"\$(stat -c %a '$image/var/lib/offroot/.ssh/authorized_keys')\" = 600 && test \"\$(stat -c %a '$image/var/lib/offroot/.ssh')\" = 700"
check "authorized_keys: the configured key" cmp -s "$image/var/lib/offroot/.ssh/authorized_keys" "$etc/authorized_keys"
check "root's home is the emergency environment's" grep -q '^root:x:0:0:root:/var/lib/offroot:/bin/sh$' "$image/etc/passwd"
check "only root can log in (passwd has one user)" test "$(wc -l < "$image/etc/passwd")" = 1

check "dropbear options: key-only, root only, no forwarding, own pidfile, port 1022" grep -qx \
    'DROPBEAR_OPTIONS="-s -G root -j -k -p 1022 -P /run/offroot/dropbear.pid -r /etc/offroot/dropbear_ed25519_host_key"' \
    "$image/etc/offroot/armed"
check "the boot scripts are in the image" sh -c \
    "test -x '$image/scripts/init-premount/offroot' && test -x '$image/scripts/init-bottom/offroot' && test -x '$image/usr/lib/offroot/start-dropbear'"
check "init-premount runs offroot's script" grep -q 'offroot' "$image/scripts/init-premount/ORDER"
# start-dropbear caps the sessions' /tmp and home with offroot-functions,
# at the sizes of offroot.conf; both are boot-only (the manifest drops them).
check "start-dropbear's offroot-functions is in the image" test -f "$image/usr/lib/offroot/offroot-functions"
check "the armed record names the sessions' caps (offroot.conf's defaults)" sh -c \
    "grep -qx 'SESSION_TMP_SIZE=64m' '$image/etc/offroot/armed' && grep -qx 'SESSION_HOME_SIZE=16m' '$image/etc/offroot/armed'"

manifest=$image/etc/offroot/manifest
check "the manifest keeps dropbear, offroot and busybox" sh -c \
    "grep -qx /usr/sbin/dropbear '$manifest' && grep -qx /usr/sbin/offroot '$manifest' && grep -qx /bin/busybox '$manifest'"
check "the manifest keeps dropbear's libraries" sh -c \
    "for lib in \$(ldd /usr/sbin/dropbear | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p'); do grep -qx \"\$lib\" '$manifest' || exit 1; done"
check "the manifest does not keep run-init, modules, udev or the boot-only shell" sh -c \
    "! grep -qE '^/usr/sbin/run-init\$|modules|udev|offroot-functions|start-dropbear' '$manifest'"
# e2fsprogs come into RAM at enter (PROGRAMS is empty by default): not
# resident, whatever else put them into the image (initramfs-tools' fsck
# hook). busybox's own mke2fs applet (ext2 only) stays, as part of busybox.
check "the manifest keeps no e2fsprogs (they come at enter)" sh -c \
    "! grep -qE '/(e2fsck|resize2fs|libext2fs[^/]*)\$' '$manifest'"

# The image as rootfs in fresh namespaces: its run-init prunes it to its
# manifest; what stays is what the server keeps in RAM for its uptime.
echo "# booting the armed image's rootfs in namespaces"
if NS_IMAGE_DIR="$image" "$src/tests/ns/run-scenario.sh" "$bin" real-image 120 > "$work/real-image.log" 2>&1; then
    ok "the image's run-init keeps its manifest, and it fits the RAM target"
else
    not_ok "the image's run-init keeps its manifest, and it fits the RAM target"
fi
grep -E '^(not ok|RAM kept)|^  [0-9]' "$work/real-image.log" || true
grep -q '^run-scenario' "$work/real-image.log" || cat "$work/real-image.log"
# The boot test's budget (tests/vm/boot-emergency.sh, ram_budget_kib: one
# figure for every suite), held here too so that CI sees a regression
# without a VM. What each part costs: tests/hook/resident-cost.sh.
resident_budget_kib=6144
kept=$(sed -n 's/^RAM kept by rootfs: \([0-9]*\) bytes.*/\1/p' "$work/real-image.log")
check "the pruned image keeps at most $resident_budget_kib KiB (${kept:-?} bytes), the boot test's budget" \
    test "${kept:-999999999}" -le $((resident_budget_kib * 1024))

# PROGRAMS: kept resident, with their libraries, in the image and the manifest.
echo 'PROGRAMS="resize2fs"' >> "$etc/offroot.conf"
programs=$(build_image "$work/programs.img" "$work/programs")
check "PROGRAMS: resize2fs runs in the image" sh -c \
    "test -x '$programs/usr/sbin/resize2fs' && chroot '$programs' /usr/sbin/resize2fs 2>&1 | grep -q '^Usage: '"
check "PROGRAMS: the manifest keeps resize2fs and libext2fs" sh -c \
    "grep -qx /usr/sbin/resize2fs '$programs/etc/offroot/manifest' && grep -q 'libext2fs' '$programs/etc/offroot/manifest'"
sed -i '/^PROGRAMS="resize2fs"$/d' "$etc/offroot.conf"
rm -rf "$work/programs" "$work/programs.img"

# The image without a key: built, but left stock, and it says why.
echo "# building an image without authorized keys"
rm "$etc/authorized_keys"
stock=$(build_image "$work/stock.img" "$work/stock")
check "without keys, the build says offroot is not armed and why" \
    grep -q "offroot: not armed: no key in $etc/authorized_keys" "$work/stock.img.log"
check "without keys, run-init stays the image's own" sh -c "! cmp -s '$stock/usr/sbin/run-init' '$bin/run-init'"
check "without keys, no manifest, no dropbear options" sh -c \
    "test ! -e '$stock/etc/offroot/manifest' && test ! -e '$stock/etc/offroot/armed'"
check "without keys, the image tells the boot why" grep -q "no key in" "$stock/etc/offroot/not-armed"

# Each way of not being armed: the image is built stock and says why.
not_armed_case() {   # DESCRIPTION EXPECTED-REASON
    img=$(build_image "$work/case.img" "$work/case")
    if grep -q "offroot: not armed: $2" "$work/case.img.log" && grep -q "$2" "$img/etc/offroot/not-armed" \
        && ! cmp -s "$img/usr/sbin/run-init" "$bin/run-init" && [ ! -e "$img/etc/offroot/armed" ]; then
        ok "$1: stock image, and the build and the boot say why"
    else
        not_ok "$1: stock image, and the build and the boot say why"
        cat "$work/case.img.log"
    fi
    rm -rf "$work/case" "$work/case.img" "$work/case.img.log"
}
dropbearkey -y -f "$work/client_key" | grep '^ssh-' > "$etc/authorized_keys"
mv "$etc/offroot.conf" "$etc/offroot.conf.saved"
not_armed_case "configuration missing" "$etc/offroot.conf is missing"
echo 'PORT=1022 "unterminated' > "$etc/offroot.conf"
not_armed_case "configuration broken" "$etc/offroot.conf is not valid shell"
echo 'PORT=ssh' > "$etc/offroot.conf"
not_armed_case "port not a number" "PORT=ssh in $etc/offroot.conf is not a port number"
echo 'ENABLED=no' > "$etc/offroot.conf"
not_armed_case "disabled in the configuration" "ENABLED=no in $etc/offroot.conf"
mv "$etc/offroot.conf.saved" "$etc/offroot.conf"
mkdir -p "$work/nobin"
cp "$bin/offroot" "$work/nobin/"
OFFROOT_SOURCE_LIB="$work/nobin" not_armed_case "run-init missing" "$work/nobin/run-init is missing"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
