#!/bin/bash
# Boot integration, end to end: the offroot package installed in a real
# Debian guest, a key added and the initramfs rebuilt as an admin would,
# then real boots under QEMU:
#   - armed: ssh on 1022 answers with the key, refuses a password and an
#     unknown key, shows the host key of /etc/offroot; sshd on 22 works;
#     offroot status says NORMAL and how much RAM rootfs keeps;
#   - offroot=off on the kernel command line: a stock boot, nothing on 1022;
#   - the keys removed before the initramfs was built: a stock boot that
#     says why offroot is not armed;
#   - dropbear-initramfs installed too: offroot's dropbear outlives its
#     init-bottom;
#   - the stock initramfs of the same guest, for the boot-time ratio.
# GENERATOR dracut (a vm_dracut_image guest): the same, the root switch is
# tmpfs, and dropbear-initramfs (initramfs-tools only) is left out.
# GENERATOR dracut-systemd-initrd (INIT sysvinit): dracut's systemd initrd
# on a sysvinit guest booted with init=/sbin/init; 1022 comes back after
# switch-root by the init script offroot-emergency.
#
#   tests/vm/boot-emergency.sh DEB [SUITE [INIT [GENERATOR]]]
#   (default: bookworm systemd, GENERATOR $OFFROOT_VM_GENERATOR or initramfs-tools)
# Every failure is a counted check or an explicit exit: no set -e.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"

deb=${1:?usage: boot-emergency.sh DEB [SUITE [INIT]]}
suite=${2:-bookworm}
init=${3:-systemd}
generator=${4:-${OFFROOT_VM_GENERATOR:-initramfs-tools}}
name="boot-$suite-$init"
generator_label=""
if [ "$generator" != initramfs-tools ]; then
    name="$name-$generator"
    generator_label=" ($generator)"
fi
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}
extra_cmdline=$(vm_generator_cmdline "$generator")
[ -n "$extra_cmdline" ] && OFFROOT_VM_CMDLINE="$OFFROOT_VM_CMDLINE $extra_cmdline"

# RAM that rootfs may keep after boot: one budget for every suite, 6 MiB
# (tests/hook/resident-cost.sh, 2026-12: bookworm 5.2, trixie ~5.4,
# testing ~5.6 MiB, since offroot parses its own command line and links
# against the C library, 0.34 MB, and e2fsprogs come into RAM at enter
# instead of staying resident). The hook test (tests/hook/mkinitramfs-with-hook.sh)
# holds this machine's image to the same figure.
ram_target_mib=6
ram_budget_kib=6144

. "$here/checks.sh"
summary() { checks_summary "boot-emergency $suite/$init${generator_label}"; }
vm_setup_traps
trap 'vm_cleanup; summary' EXIT

[ "$(id -u)" = 0 ] || { fail "must run as root (loop devices, chroot)"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb: build it first (tools/dev.sh test does)"; exit 1; }

img=$(vm_generator_image "$suite" "$init" "$generator") || { fail "$generator image $suite/$init"; exit 1; }
key=$(vm_key)
rebuild=$(vm_initramfs_rebuild "$generator") || exit 1

# ssh to 1022 with options of our own: a given key (or none) and the
# known_hosts of this VM.
ssh_1022() {
    local identity=$1
    shift
    local port
    port=$(vm_port "$name" 1022) || return 255
    timeout -k 5 60 ssh -F /dev/null -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -o ConnectTimeout=10 -o User=root "$@" ${identity:+-i "$identity" -o IdentitiesOnly=yes} -- 127.0.0.1 true \
        < /dev/null 2>/dev/null
}

# --- the stock boot of this guest, for the ratio --------------------------
vm_prepare "$name" "$img" || { fail "vm_prepare (stock)"; exit 1; }
vm_boot "$name" || { fail "vm_boot (stock)"; exit 1; }
if vm_wait_ssh "$name" 22 "$boot_timeout"; then
    stock_boot=$(cat "$(vm_dir "$name")/ssh-ready-22")
    pass "stock initramfs: sshd answered ${stock_boot}s after qemu start"
else
    fail "stock boot: no sshd"; exit 1
fi
vm_poweroff "$name" 22 || fail "stock guest powered off"

# --- the package, a key, the initramfs rebuilt ------------------------------
offroot_guest "$name" "$suite" "$init" "$deb" "$img" "$generator" || { fail "an armed $suite/$init guest with $deb"; exit 1; }
pass "the package installs in the $suite/$init guest and $rebuild with a key arms it"
fingerprint=$(vm_image_run "$name" "dropbearkey -y -f /etc/offroot/dropbear_ed25519_host_key" | sed -n 's/^Fingerprint: //p')

vm_boot "$name" || { fail "vm_boot (armed)"; exit 1; }
if vm_wait_ssh "$name" 22 "$boot_timeout"; then
    armed_boot=$(cat "$(vm_dir "$name")/ssh-ready-22")
    pass "armed initramfs: sshd on 22 answered ${armed_boot}s after qemu start"
else
    fail "armed boot: no sshd on 22"; exit 1
fi
check "ssh on 1022 answers with the key" vm_wait_ssh "$name" 1022 60
check "sshd on 22 works as usual" vm_ssh "$name" 22 'test -d /etc/ssh'
if [ "$generator" = dracut-systemd-initrd ]; then
    # What this guest is: a systemd initrd, then sysvinit as PID 1, and
    # 1022 back by the init script, not carried from the initrd.
    check "the initrd was dracut's systemd initrd" \
        grep -q 'offroot emergency ssh server in the initrd' "$(vm_dir "$name")/serial.log"
    check "PID 1 is sysvinit's init (init=/sbin/init)" \
        vm_ssh "$name" 22 'test "$(cat /proc/1/comm)" = init && test ! -d /run/systemd/system'
    check "1022 was started again by the init script offroot-emergency" \
        grep -q "offroot: emergency ssh on port [0-9]* again after switch-root" "$(vm_dir "$name")/serial.log"
fi

# shellcheck disable=SC2016 # expanded by the guest's shell
check "the initramfs holding the keys is readable by root only" \
    vm_ssh "$name" 22 'test "$(stat -c %a /boot/initrd.img-$(uname -r))" = 600'
check_not "1022 refuses a password" ssh_1022 "" -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive
other=$(mktemp -d)/other_key
ssh-keygen -q -t ed25519 -N '' -f "$other"
check_not "1022 refuses an unknown key" ssh_1022 "$other"
check "1022 accepts the configured key (control)" ssh_1022 "$key"

port=$(vm_port "$name" 1022)
scanned=$(ssh-keyscan -t ed25519 -p "$port" 127.0.0.1 2>/dev/null | ssh-keygen -lf - | awk '{print $2}')
check "the host key on 1022 is /etc/offroot's ($fingerprint)" test -n "$fingerprint" -a "$scanned" = "$fingerprint"

status=$(vm_ssh "$name" 1022 offroot status 2>&1) || true
# shellcheck disable=SC2001 # indents every line
echo "$status" | sed 's/^/    /'
check "offroot status in the 1022 session: NORMAL" grep -q '^offroot status: NORMAL' <<< "$status"
ram_bytes=$(vm_ssh "$name" 1022 offroot status --json | sed -n 's/.*"rootfs_bytes":\([0-9]*\).*/\1/p')
# One line for the log and the summary: the figure against the target, and
# the budget when the suite has more than the target.
ram_report=$(awk -v b="${ram_bytes:-}" -v t="$ram_target_mib" -v B="$ram_budget_kib" -v s="$suite" 'BEGIN {
    if (b == "") { print "RAM kept by rootfs: unknown (offroot status --json gave no rootfs_bytes)"; exit }
    m = b / 1048576
    B = B / 1024
    printf "RAM kept by rootfs: %.2f MiB (%d bytes; ", m, b
    if (m <= t) printf "target %d MiB, %.2f MiB to spare on %s)\n", t, t - m, s
    else printf "over the %.2f MiB budget by %.2f MiB on %s: find what grew: tests/hook/resident-cost.sh, or du -xak / | sort -n | tail in the 1022 session)\n", B, m - B, s
}')
echo "$ram_report"
check "offroot status reports the RAM kept by rootfs, within the budget of $ram_budget_kib KiB" \
    test "${ram_bytes:-999999999}" -le $((ram_budget_kib * 1024))
check_go() { vm_ssh "$name" 1022 offroot check > "$(vm_dir "$name")/check.out" 2>&1; }
check "offroot check in the 1022 session: GO" check_go
# The watcher started by the initramfs keeps dropbear: shielded from the
# OOM killer, started again when killed.
check "the emergency dropbear is shielded from the OOM killer (-1000)" \
    test "$(vm_ssh "$name" 22 'cat /proc/$(cat /run/offroot/dropbear.pid)/oom_score_adj')" = -1000
check "the emergency dropbear, killed, is started again by its watcher" dropbear_restarts "$name" 22 22
check "the watcher is shielded from the OOM killer (-1000)" \
    test "$(vm_ssh "$name" 22 'cat /proc/$(cat /run/offroot/watch.pid)/oom_score_adj')" = -1000
# The sessions forked from the shielded listener go back to 0 within a
# round of the watcher: a tool that takes all the memory is killable.
check "a 1022 session is not shielded from the OOM killer (0)" \
    test "$(vm_ssh "$name" 1022 'sleep 3; cat /proc/self/oom_score_adj')" = 0
check "the 1022 session's /tmp is a capped tmpfs of its own" \
    vm_ssh "$name" 1022 'awk "\$5 == \"/tmp\" { found = 1 } END { exit !found }" /proc/self/mountinfo && [ "$(stat -f -c %T /tmp)" = tmpfs ]'
check "a copy into the 1022 session's /tmp ends in ENOSPC" \
    vm_ssh "$name" 1022 'dd if=/dev/zero of=/tmp/fill bs=1M count=1024 2>&1 | grep -q "No space left"; rc=$?; rm -f /tmp/fill; exit $rc'
sed 's/^/    /' "$(vm_dir "$name")/check.out"

# The root switch follows the kernel: pivot where it mounts rootfs on nullfs
# (7.x says so at boot), move elsewhere; dracut's is always tmpfs (its
# switch_root deletes rootfs).
on_nullfs() { vm_ssh "$name" 22 dmesg | grep -q 'rootfs on nullfs'; }
expected_switch=move
on_nullfs && expected_switch=pivot
case $generator in dracut*) expected_switch=tmpfs ;; esac
check "offroot status: root switch $expected_switch, as this kernel's rootfs asks" \
    grep -q "^root switch: $expected_switch" <<< "$status"
vm_poweroff "$name" 22 || fail "armed guest powered off"

# --- nullfs_rootfs on the command line (the option early 7.0 kernels had) ---
if [ "$expected_switch" = pivot ]; then
    vm_boot "$name" nullfs_rootfs || { fail "vm_boot nullfs_rootfs"; exit 1; }
    check "nullfs_rootfs: sshd on 22" vm_wait_ssh "$name" 22 "$boot_timeout"
    check "nullfs_rootfs: ssh on 1022 answers" vm_wait_ssh "$name" 1022 60
    status=$(vm_ssh "$name" 1022 offroot status 2>&1) || true
    check "nullfs_rootfs: NORMAL" grep -q '^offroot status: NORMAL' <<< "$status"
    check "nullfs_rootfs: root switch pivot" grep -q '^root switch: pivot' <<< "$status"
    said=$(vm_ssh "$name" 22 'dmesg | grep -iE "nullfs|unknown kernel command line"; echo "PID 1: $(tr "\0" " " < /proc/1/cmdline)"')
    # shellcheck disable=SC2001 # indents every line
    echo "$said" | sed 's/^/    /'
    vm_poweroff "$name" 22 || fail "nullfs_rootfs guest powered off"
fi

# --- offroot=off: the stock boot -------------------------------------------
vm_boot "$name" offroot=off || { fail "vm_boot offroot=off"; exit 1; }
check "offroot=off: sshd on 22" vm_wait_ssh "$name" 22 "$boot_timeout"
check_not "offroot=off: nothing on 1022" ssh_1022 "$key"
status_says() { vm_ssh "$name" "$1" offroot status 2>&1 | grep -q "$2"; }
check "offroot=off: offroot status says there is no emergency environment" status_says 22 NO-EMERGENCY-ENVIRONMENT
check "offroot=off: the boot said so" grep -q 'offroot: disabled by offroot=off' "$(vm_dir "$name")/serial.log"
vm_poweroff "$name" 22 || fail "offroot=off guest powered off"

# --- no keys when the initramfs was built: stock boot, says why -------------
vm_image_run "$name" "rm /etc/offroot/authorized_keys && $rebuild 2>&1" > "$(vm_dir "$name")/disarm.log" 2>&1 \
    || fail "removing the keys and rebuilding the initramfs"
check "without keys, $rebuild says offroot is not armed" \
    grep -q 'offroot: not armed: no key in /etc/offroot/authorized_keys' "$(vm_dir "$name")/disarm.log"
vm_boot "$name" || { fail "vm_boot without keys"; exit 1; }
check "without keys: sshd on 22" vm_wait_ssh "$name" 22 "$boot_timeout"
check_not "without keys: nothing on 1022" ssh_1022 "$key"
check "without keys: the boot said why" grep -q 'offroot: not armed in this image: no key in' "$(vm_dir "$name")/serial.log"
vm_poweroff "$name" 22 || fail "keyless guest powered off"

# --- dropbear-initramfs beside offroot (initramfs-tools only: it depends on it)
if [ "$generator" = initramfs-tools ]; then
vm_image_run "$name" "set -e
    cat '/tmp/id_ed25519.pub' > /etc/offroot/authorized_keys
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dropbear-initramfs 2>&1 | tail -n 3
    mkdir -p /etc/dropbear/initramfs
    cat '/tmp/id_ed25519.pub' > /etc/dropbear/initramfs/authorized_keys
    update-initramfs -u 2>&1" "$key.pub" > "$(vm_dir "$name")/dropbear-initramfs.log" 2>&1 \
    || { tail -n 20 "$(vm_dir "$name")/dropbear-initramfs.log"; fail "installing dropbear-initramfs"; exit 1; }
vm_boot "$name" || { fail "vm_boot with dropbear-initramfs"; exit 1; }
check "with dropbear-initramfs: sshd on 22" vm_wait_ssh "$name" 22 "$boot_timeout"
check "with dropbear-initramfs: offroot's 1022 outlived its init-bottom" vm_wait_ssh "$name" 1022 60
check "with dropbear-initramfs: the 1022 session is offroot's emergency environment" \
    status_says 1022 '^offroot status: NORMAL'
vm_poweroff "$name" 22 || fail "guest with dropbear-initramfs powered off"
fi

# --- purged: the stock boot again ------------------------------------------
vm_image_run "$name" "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q offroot 2>&1" > "$(vm_dir "$name")/purge.log" 2>&1 \
    || { tail -n 20 "$(vm_dir "$name")/purge.log"; fail "purging offroot"; }
# initramfs-tools says "update-initramfs: Generating", Debian's dracut
# "dracut: Generating".
check "purge rebuilt the initramfs" grep -qE '(update-initramfs|dracut): Generating' "$(vm_dir "$name")/purge.log"
if [ "$generator" != initramfs-tools ]; then
    # lsinitrd, in the guest's tree (this machine has initramfs-tools).
    image_has_offroot() { vm_image_run "$name" 'lsinitrd /boot/initrd.img-*' | grep -q offroot; }
    check_not "purged: nothing of offroot is left in the initramfs" image_has_offroot
else
    check_not "purged: nothing of offroot is left in the initramfs" \
        sh -c "lsinitramfs '$(vm_dir "$name")/initrd.img' | grep -q offroot"
fi
vm_boot "$name" || { fail "vm_boot after purge"; exit 1; }
check "purged: sshd on 22" vm_wait_ssh "$name" 22 "$boot_timeout"
check_not "purged: nothing on 1022" ssh_1022 "$key"
check_not "purged: /etc/offroot is gone" vm_ssh "$name" 22 'test -e /etc/offroot'
vm_poweroff "$name" 22 || fail "purged guest powered off"

echo "boot time to sshd on 22: stock ${stock_boot}s, offroot ${armed_boot}s, ratio $(awk -v a="$armed_boot" -v s="$stock_boot" 'BEGIN { printf "%.2f", a / s }')"
echo "$ram_report"
[ "$failed" -eq 0 ]
