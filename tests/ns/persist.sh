#!/bin/sh
# offroot persist for real, on a root of its own: an ext4 filesystem on a
# loop device (the root must be a block device with a UUID for fstab to
# name it; its image lives in a tmpfs) mounted in a private mount
# namespace, holding a real /etc/fstab, grub.cfg and debconf database,
# busybox, and stand-ins for the only things not run for real: the
# external tools update-initramfs, mkinitramfs, update-grub and
# grub-install, which record their arguments (update-grub also writes a
# grub.cfg naming fstab's root, as grub-mkconfig would). offroot finds
# the root by OFFROOT_PERSIST_ROOT and runs the tools chrooted there, as
# it runs them in PID 1's root from port 1022.
#
# In a PID namespace of its own with its own /proc: the host's offroot
# state (an emergency environment, a transition) is not the test's.
#
# usage: persist.sh OFFROOT (as root)
set -eu

if [ -z "${OFFROOT_NS_PERSIST_INSIDE:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "persist: needs root (a private mount namespace, a loop device)" >&2; exit 1; }
    exec env OFFROOT_NS_PERSIST_INSIDE=1 unshare --mount --propagation private --pid --fork --mount-proc -- /bin/sh "$0" "$@"
fi

offroot=$1
work=$(mktemp -d /tmp/offroot-persist.XXXXXX)
loop=""
cleanup() {
    umount "$work/root" 2>/dev/null || true
    [ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true
    umount "$work" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/checks.sh"
has() { printf '%s\n' "$1" | grep -q -- "$2"; }

old_uuid=11111111-2222-4333-8444-555555555555
new_uuid=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee
mount -t tmpfs -o size=96m tmpfs "$work"
truncate -s 64M "$work/root.img"
mkfs.ext4 -q -F -U "$new_uuid" "$work/root.img"
loop=$(losetup -f --show "$work/root.img")
mkdir "$work/root"
mount "$loop" "$work/root"
root=$work/root

# The root: busybox with its libraries, the admin's files.
mkdir -p "$root/bin" "$root/usr/sbin" "$root/etc" "$root/boot/grub" "$root/var/cache/debconf"
cp /usr/bin/busybox "$root/bin/busybox"
for lib in $(ldd /usr/bin/busybox | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
for applet in sh awk echo cat; do ln -s busybox "$root/bin/$applet"; done
cat > "$root/etc/fstab" <<EOF
# /etc/fstab: static file system information.
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
UUID=$old_uuid /               ext4    errors=remount-ro 0       1
/dev/vdz1	/srv	ext4	defaults,noatime	0	2
EOF
chmod 0640 "$root/etc/fstab"
cp "$root/etc/fstab" "$work/fstab.orig"
printf 'menuentry Debian {\n\tlinux /vmlinuz root=UUID=%s ro quiet\n}\n' "$old_uuid" > "$root/boot/grub/grub.cfg"

# Stand-ins for the external tools: each line of /calls is one run.
for tool in update-initramfs mkinitramfs grub-install; do
    printf '#!/bin/sh\necho "%s $*" >> /calls\n' "$tool" > "$root/usr/sbin/$tool"
done
cat > "$root/usr/sbin/update-grub" <<'EOF'
#!/bin/sh
echo "update-grub $*" >> /calls
[ ! -e /fail-update-grub ] || { echo "stand-in: grub-probe failed" >&2; exit 1; }
spec=$(awk '$2 == "/" { print $1; exit }' /etc/fstab)
printf 'menuentry Debian {\n\tlinux /vmlinuz root=%s ro quiet\n}\n' "$spec" > /boot/grub/grub.cfg
EOF
chmod 0755 "$root"/usr/sbin/*

export OFFROOT_PERSIST_ROOT="$root"

# Before: status warns, from fstab.
status=$("$offroot" status 2>&1 || true)
check "status warns that the next reboot goes back to the old root" \
    has "$status" "WARNING: the next reboot goes back to UUID=$old_uuid (/etc/fstab): run offroot persist"
json=$("$offroot" --json status 2>&1 || true)
check "status --json names the old root" has "$json" "\"goes_back_to\":\"UUID=$old_uuid\""

# --dry-run: each step, nothing changed.
dry=$("$offroot" persist --dry-run 2>&1 || true)
check "dry-run: the fstab step" has "$dry" "fstab: /etc/fstab's root entry: UUID=$old_uuid -> UUID=$new_uuid"
check "dry-run: update-initramfs" has "$dry" "initramfs: rebuild every kernel's initramfs"
check "dry-run: update-grub" has "$dry" "grub-config: regenerate /boot/grub/grub.cfg"
check "dry-run: grub-install on the disk holding /boot" has "$dry" "grub-install: install GRUB on $loop (the disk holding /boot)"
dry_disk=$("$offroot" persist --dry-run --boot-disk "$loop" 2>&1 || true)
check "dry-run --boot-disk: that disk" has "$dry_disk" "install GRUB on $loop (--boot-disk)"
dry_json=$("$offroot" --json persist --dry-run 2>&1 || true)
check "dry-run --json: the steps by name" has "$dry_json" '"command":"persist","dry_run":true,"steps":\[{"name":"fstab"'
check "dry-run: fstab untouched" cmp -s "$root/etc/fstab" "$work/fstab.orig"
check "dry-run: no tool ran" test ! -e "$root/calls"
check "dry-run: no backup" sh -c "! ls '$root'/etc/fstab.offroot-* >/dev/null 2>&1"

# Ambiguous: debconf names a disk that is gone.
printf 'Name: grub-pc/install_devices\nTemplate: grub-pc/install_devices\nValue: /dev/disk/by-id/offroot-test-gone\nOwners: grub-pc\n\n' \
    > "$root/var/cache/debconf/config.dat"
rc=0
refusal=$("$offroot" persist 2>&1) || rc=$?
check_eq "a boot disk that is gone: refused" 1 "$rc"
check "the refusal names it and --boot-disk" has "$refusal" "offroot-test-gone, which no longer exists.*--boot-disk"
check "the refusal says nothing was changed" has "$refusal" "nothing was changed"
check "refused: fstab untouched" cmp -s "$root/etc/fstab" "$work/fstab.orig"
check "refused: no tool ran" test ! -e "$root/calls"
rm "$root/var/cache/debconf/config.dat"

# The real run.
rc=0
run=$("$offroot" persist 2>&1) || rc=$?
check_eq "persist: exit 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$run"
check "persist: says it is done" has "$run" "offroot persist: done; the next boot takes $loop"
expected_fstab=$(sed "s/^UUID=$old_uuid /UUID=$new_uuid /" "$work/fstab.orig")
check_eq "fstab: the root entry names the new root by UUID, everything else as it was" \
    "$expected_fstab" "$(cat "$root/etc/fstab")"
check_eq "fstab: its mode kept" 640 "$(stat -c %a "$root/etc/fstab")"
backup=$(ls "$root"/etc/fstab.offroot-*)
check "fstab: the old one kept beside it" cmp -s "$backup" "$work/fstab.orig"
check_eq "the tools ran in order, with their arguments" \
    "update-initramfs -u -k all
update-grub 
grub-install $loop" "$(cat "$root/calls")"
check "no temporary file left" sh -c "! ls '$root'/etc/*.new >/dev/null 2>&1"

status=$("$offroot" status 2>&1 || true)
check "status: no warning once persisted" sh -c "! printf '%s' \"\$1\" | grep -q WARNING" - "$status"
json=$("$offroot" --json status 2>&1 || true)
check "status --json: next_boot null" has "$json" '"next_boot":null'

# fstab right, grub.cfg still the old root's: the warning names grub.cfg.
cp "$root/boot/grub/grub.cfg" "$work/grub.cfg.persisted"
printf 'menuentry Debian {\n\tlinux /vmlinuz root=UUID=%s ro quiet\n}\n' "$old_uuid" > "$root/boot/grub/grub.cfg"
status=$("$offroot" status 2>&1 || true)
check "status warns from grub.cfg's root=" \
    has "$status" "WARNING: the next reboot goes back to UUID=$old_uuid (root= in /boot/grub/grub.cfg): run offroot persist"
cp "$work/grub.cfg.persisted" "$root/boot/grub/grub.cfg"

# A step that fails: what was done, what was not, what to run.
rm "$root/calls"
: > "$root/fail-update-grub"
rc=0
broken=$("$offroot" persist 2>&1) || rc=$?
check_eq "a failing update-grub: exit 1" 1 "$rc"
check "it names the step" has "$broken" "step grub-config failed: update-grub"
check "it says what was done" has "$broken" "done: fstab, initramfs"
check "it lists what to run by hand" has "$broken" "grub-install $loop"
check_eq "nothing ran after the failure" "update-initramfs -u -k all
update-grub " "$(cat "$root/calls")"
check_eq "fstab as persisted" "$expected_fstab" "$(cat "$root/etc/fstab")"

exit "$failed"
