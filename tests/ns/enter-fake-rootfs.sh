#!/bin/sh
# PID 1 of the new namespaces, still on the host's root: builds the fake
# rootfs, pivots into it and execs the scenario there.
set -eu
work=$1 busybox=$2 bin_dir=$3 tests=$4 scenario=$5

# busybox and the libraries it loads (none when it is static), into a root.
install_busybox() {
    mkdir -p "$1/bin"
    cp "$busybox" "$1/bin/busybox"
    for lib in $(ldd "$busybox" 2>/dev/null | grep -o '/[^ ]*'); do
        mkdir -p "$1${lib%/*}"
        cp -L "$lib" "$1$lib"
    done
}

r=$work/rootfs
mkdir -p "$r"
mount -t tmpfs -o mode=0755 rootfs "$r"
if [ -n "${NS_IMAGE_DIR:-}" ]; then
    # A real initramfs, unpacked: rootfs holds exactly what the image holds.
    cp -a "$NS_IMAGE_DIR/." "$r/"
    mkdir -p "$r/tests" "$r/oldroot" "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/tmp"
else
    mkdir -p "$r/bin" "$r/usr/lib/offroot" "$r/etc/offroot" "$r/tests" "$r/oldroot" "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/tmp"
    install_busybox "$r"
    for applet in $("$busybox" --list); do
        [ -e "$r/bin/$applet" ] || ln -s busybox "$r/bin/$applet"
    done
    cp "$bin_dir/run-init" "$bin_dir/offroot" "$r/usr/lib/offroot/"
    ln -s offroot "$r/usr/lib/offroot/offroot-init"
fi
# busybox for the fake real root, whatever rootfs holds; the manifests of
# the scenarios keep its libraries, as the hook's would.
install_busybox "$r/tests/bb"
ldd "$busybox" 2>/dev/null | grep -o '/[^ ]*' > "$r/tests/busybox.libs" || true
cp "$bin_dir/ns-fake-init" "$r/tests/fake-init"
cp "$bin_dir/ns-transition-driver" "$r/tests/transition-driver"
# A stand-in DHCP client for transition-worker: a shell other than busybox
# (which would look for an applet by the name), copied there as dhclient;
# it needs only the C library busybox brings.
fake_client=$(command -v dash || true)
if [ -n "$fake_client" ]; then cp "$fake_client" "$r/tests/fake-dhclient"; fi
cp "$tests/scenarios/"*.sh "$tests/in-namespace.sh" "$r/tests/"
cp "$tests/../../hooks/start-dropbear" "$r/tests/start-dropbear"
# start-dropbear sources it from where the hook puts it in the image.
mkdir -p "$r/usr/lib/offroot"
cp "$tests/../../hooks/offroot-functions" "$r/usr/lib/offroot/offroot-functions"

# /dev/console inside: a host file, so that what init and the stub write to
# the console reaches the test's log.
: > "$work/console"
: > "$r/console-capture"
mount --bind "$work/console" "$r/console-capture"

if [ -z "${NS_ROOTFS_ON_NULLFS:-}" ]; then
    cd "$r"
    pivot_root . oldroot
    exec /bin/busybox sh -c 'umount -l /oldroot && rmdir /oldroot && cd / && exec /bin/busybox sh "/tests/$1.sh"' sh "$scenario"
fi

# The layout of kernels 7.x: an empty filesystem is the namespace's root
# mount and rootfs is mounted on top of it, so rootfs has a parent mount.
# A tmpfs plays nullfs (with a busybox, to finish the set-up from inside):
# we pivot into it, move rootfs onto its "/" and climb onto rootfs with
# "/..", as the move switch enters the real root.
n=$work/nullfs
mkdir -p "$n"
mount -t tmpfs -o mode=0755 nullfs "$n"
install_busybox "$n"
mkdir "$n/oldroot" "$n/stage"
mount --move "$r" "$n/stage"
cd "$n"
pivot_root . oldroot
exec /bin/busybox sh -c '
    set -e
    /bin/busybox umount -l /oldroot
    /bin/busybox rmdir /oldroot
    /bin/busybox mount --move /stage /
    exec /bin/busybox chroot /.. /bin/busybox sh "/tests/$1.sh"' sh "$scenario"
