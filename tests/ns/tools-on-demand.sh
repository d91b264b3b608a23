#!/bin/sh
# Tools on demand (system/offline_tools), for real, in a private mount
# namespace: a fake emergency environment on a tmpfs (busybox and its C
# library, as the initramfs leaves it), this machine's root bound read-only
# below it as the real root. The driver brings e2fsprogs in with the disk's
# own C library and loader; the wrappers run them (mkfs.ext4 as mke2fs
# under its own name, e2fsck, resize2fs on an image in the environment);
# remove leaves the environment as it was. On a tmpfs too small, bringing
# fails and leaves nothing behind.
#
# usage: tools-on-demand.sh TOOLS_DRIVER        (as root)
set -eu

fail() { echo "tools-on-demand: $*" >&2; exit 1; }

if [ "${TOOLS_NS_INSIDE:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || fail "needs root (namespaces, mounts)"
    for tool in unshare busybox ldd; do
        command -v "$tool" >/dev/null || fail "$tool not found"
    done
    [ -x /usr/sbin/e2fsck ] || fail "e2fsprogs is not installed on this machine"
    TOOLS_NS_INSIDE=1 exec unshare --mount --propagation private -- timeout 120 /bin/sh "$0" "$@"
fi

driver=$1
work=$(mktemp -d /tmp/offroot-tools.XXXXXX)
failed=0
check() {
    description=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "ok - $description"; else echo "not ok - $description"; failed=1; fi
}

# A fresh environment of SIZE: busybox with its libraries, its applets,
# the driver, the real root below it.
make_environment() {
    env=$work/env
    mkdir -p "$env"
    mount -t tmpfs -o "mode=0755,size=$1" offroot-test-env "$env"
    for dir in bin sbin lib lib64; do
        if [ -L "/$dir" ]; then
            target=$(readlink -f "/$dir")
            mkdir -p "$env$target"
            ln -s "${target#/}" "$env/$dir"
        fi
    done
    mkdir -p "$env/usr/bin" "$env/usr/sbin" "$env/usr/lib/offroot" "$env/tmp" "$env/realroot" "$env/proc" "$env/dev"
    cp "$(command -v busybox)" "$env/bin/busybox"
    for lib in $( (ldd "$(command -v busybox)"; ldd "$driver") 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
        [ -e "$env$lib" ] || { mkdir -p "$env${lib%/*}"; cp -L "$lib" "$env$lib"; }
    done
    for applet in $(busybox --list); do
        [ -e "$env/bin/$applet" ] || ln "$env/bin/busybox" "$env/bin/$applet"
    done
    cp "$driver" "$env/tools_driver"
    mount --rbind /dev "$env/dev"
    mount -t proc proc "$env/proc"
    mount --bind -o ro / "$env/realroot"
    mount -o remount,bind,ro "$env/realroot"
}

drop_environment() {
    umount -R "$env"
}

listing() { (cd "$env" && find . -xdev | grep -v '^\./\(realroot\|proc\|dev\)/' | sort); }

in_env() { chroot "$env" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

make_environment 64m
before=$(listing)
check "e2fsck is not in the environment before" test ! -e "$env/usr/sbin/e2fsck"
out=$(in_env /tools_driver bring /realroot ext4 2>&1) || { echo "$out"; fail "bringing the tools failed"; }
echo "$out" | sed 's/^/    /'
check "the driver names e2fsck" sh -c "echo '$out' | grep -q '^command e2fsck /usr/sbin/e2fsck$'"
check "e2fsck is a wrapper at its own path" grep -q 'offroot: brought into RAM' "$env/usr/sbin/e2fsck"
check "the disk's loader came along" sh -c "ls $env/usr/lib/offroot/tools/lib/ld-linux-* >/dev/null"
check "/etc/mtab is there for lvm and the mount helpers, a link to the mount table" test "$(readlink "$env/etc/mtab")" = ../proc/self/mounts
check "e2fsck -V runs from RAM" in_env e2fsck -V
in_env dd if=/dev/zero of=/tmp/fs.img bs=1M count=16 >/dev/null 2>&1
check "mkfs.ext4 runs (mke2fs by another name)" in_env mkfs.ext4 -q -F /tmp/fs.img
check "mkfs.ext4 made ext4 (extents)" sh -c "chroot '$env' dumpe2fs -h /tmp/fs.img 2>/dev/null | grep -q extent"
check "e2fsck -f of the new filesystem" in_env e2fsck -f -n /tmp/fs.img
check "resize2fs shrinks it" in_env resize2fs /tmp/fs.img 8M
check "e2fsck -f after the shrink" in_env e2fsck -f -n /tmp/fs.img
rm -f "$env/tmp/fs.img"
check "remove succeeds" in_env /tools_driver remove
after=$(listing)
if [ "$before" = "$after" ]; then
    echo "ok - remove leaves the environment as it was"
else
    echo "not ok - remove leaves the environment as it was:"
    diff -u "$(echo "$before" > "$work/b"; echo "$work/b")" "$(echo "$after" > "$work/a"; echo "$work/a")" | sed 's/^/    /' | head -20
    failed=1
fi
# A file of the same name that is not ours survives a remove.
echo mine > "$env/usr/sbin/resize2fs"
in_env /tools_driver remove >/dev/null 2>&1 || true
check "remove leaves a file that is not its own" grep -q mine "$env/usr/sbin/resize2fs"
drop_environment

# Too small for the tools (1 MiB free; they need 4 to 5): an error that
# names it, and nothing left.
make_environment 64m
used_kib=$(df -k "$env" | awk 'NR == 2 { print $3 }')
mount -o "remount,size=$((used_kib + 1024))k" "$env"
before=$(listing)
if out=$(in_env /tools_driver bring /realroot ext4 2>&1); then
    echo "not ok - an environment with 1 MiB free refuses the tools"
    failed=1
else
    echo "ok - an environment with 1 MiB free refuses the tools"
fi
check "the error says the space ran out" sh -c "echo '$out' | grep -q 'No space left'"
after=$(listing)
check "nothing is left half-brought" test "$before" = "$after"
drop_environment

rm -rf "$work"
exit "$failed"
