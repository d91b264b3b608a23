#!/bin/bash
# Self-test of vm_prepare's package path: builds a throwaway .deb that depends on a package
# the base image lacks (so apt must resolve it from the mirror) and whose postinst rebuilds
# the initramfs, installs it with vm_prepare, boots, checks, powers off.
#   tests/vm/selftest-deb.sh [SUITE [INIT]]      (default: bookworm systemd)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

suite=${1:-bookworm}
init=${2:-systemd}
name="selftest-deb-$suite-$init"

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

tmp=$(mktemp -d)
vm_setup_traps
trap 'vm_cleanup; rm -rf "$tmp"; echo "selftest-deb: $passed passed, $failed failed"' EXIT

# the throwaway package
pkg="$tmp/pkg"
mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/offroot-vmtest"
echo "marker" > "$pkg/usr/share/offroot-vmtest/marker"
cat > "$pkg/DEBIAN/control" <<'EOF'
Package: offroot-vmtest
Version: 1.0
Architecture: all
Maintainer: offroot tests <root@localhost>
Depends: hello
Description: throwaway package for the VM harness self-test
EOF
cat > "$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    update-initramfs -u
    date +%s > /etc/offroot-vmtest-postinst
fi
EOF
chmod 755 "$pkg/DEBIAN/postinst"
dpkg-deb --root-owner-group -b "$pkg" "$tmp/offroot-vmtest_1.0_all.deb" > /dev/null \
    || { fail "dpkg-deb could not build the test package"; exit 1; }

img=$(vm_base_image "$suite" "$init") || { fail "base image"; exit 1; }
base_initrd_size=$(debugfs -R 'ls -p /boot' "$img" 2>/dev/null | awk -F/ '$6 ~ /^initrd.img-/ {print $7}' | sort | tail -n 1)

t0=$(_vm_now)
if vm_prepare "$name" "$img" "$tmp/offroot-vmtest_1.0_all.deb"; then
    pass "vm_prepare with a .deb (apt resolved its dependency) in $(_vm_since "$t0")s"
else
    fail "vm_prepare with a .deb"; exit 1
fi
dir=$(vm_dir "$name")
if grep -q 'update-initramfs\|initrd.img' "$dir/install.log"; then
    pass "the postinst rebuilt the initramfs (image initrd $base_initrd_size bytes, now $(stat -c %s "$dir/initrd.img"))"
else
    fail "no initramfs rebuild in $dir/install.log"
fi
if mountpoint -q "$dir"/mnt.* 2>/dev/null || grep -qF "$dir" /proc/mounts; then
    fail "something of $dir is still mounted"
else
    pass "nothing left mounted"
fi

echo "payload $$" > "$tmp/payload"
if out=$(vm_image_run "$name" 'cat /tmp/payload && cp /tmp/payload /etc/offroot-vmtest-run && update-initramfs -u >/dev/null 2>&1' "$tmp/payload") \
        && [ "$out" = "payload $$" ]; then
    pass "vm_image_run: file copied in, output passed out, initramfs rebuilt"
else
    fail "vm_image_run (output: ${out:-none})"
fi
if out=$(vm_image_run "$name" 'exit 3'); then
    fail "vm_image_run ignored the script's status"
elif [ $? -eq 3 ]; then
    pass "vm_image_run returns the script's status"
else
    fail "vm_image_run status"
fi

vm_boot "$name" || { fail "vm_boot"; exit 1; }
if vm_wait_ssh "$name" ssh 300; then pass "sshd up"; else fail "sshd"; exit 1; fi
if vm_ssh "$name" ssh 'test -s /etc/offroot-vmtest-postinst && test -s /etc/offroot-vmtest-run && test ! -e /tmp/payload && dpkg -s hello offroot-vmtest >/dev/null && hello >/dev/null'; then
    pass "package, dependency and postinst are in the booted guest"
else
    fail "package state in the guest"
fi
if vm_ssh "$name" ssh 'grep -q "^nameserver 10.0.2.3" /etc/resolv.conf && test ! -e /usr/sbin/policy-rc.d'; then
    pass "the guest's resolv.conf is back and no policy-rc.d is left"
else
    fail "install left resolv.conf or policy-rc.d changed"
fi
if vm_poweroff "$name"; then pass "poweroff"; else fail "poweroff"; fi
[ "$failed" -eq 0 ] && vm_destroy "$name"
[ "$failed" -eq 0 ]
