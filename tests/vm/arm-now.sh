#!/bin/bash
# No reboot needed: a guest booted with a stock initramfs (the package
# installed before any key, so its image is not armed) is armed by
# `offroot arm`, goes through enter, e2fsck and return, is disarmed, and
# reboots stock.
#
#   tests/vm/arm-now.sh DEB [SUITE [INIT [GENERATOR]]]
#   (default: bookworm systemd initramfs-tools; GENERATOR dracut: a
#   vm_dracut_image guest, its stock image built by dracut)
# Every failure is a counted check or an explicit exit: no set -e.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

deb=${1:?usage: arm-now.sh DEB [SUITE [INIT [GENERATOR]]]}
suite=${2:-bookworm}
init=${3:-systemd}
generator=${4:-initramfs-tools}
name="arm-now-$suite-$init"
label="$suite/$init"
if [ "$generator" != initramfs-tools ]; then
    name="$name-$generator"
    label="$label ($generator)"
fi
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}

. "$here/checks.sh"
summary() { checks_summary "arm-now $label"; }
vm_setup_traps
trap 'vm_cleanup; summary' EXIT

[ "$(id -u)" = 0 ] || { fail "must run as root"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb"; exit 1; }

img=$(vm_generator_image "$suite" "$init" "$generator") || { fail "the $label image"; exit 1; }
key=$(vm_key) || { fail "the test key"; exit 1; }
vm_prepare "$name" "$img" "$deb" || { fail "installing the package"; exit 1; }
dir=$(vm_dir "$name")
# The key after the initramfs was built: the image stays stock, as on a
# host that installed offroot and never rebooted since.
vm_image_run "$name" "set -e
    cat /tmp/id_ed25519.pub > /etc/offroot/authorized_keys" "$key.pub" > "$dir/key.log" 2>&1 \
    || { cat "$dir/key.log"; fail "adding the key"; exit 1; }
check "the package's initramfs is not armed (no key when it was built)" grep -q 'not armed: no key' "$dir/install.log"

vm_boot "$name" || { fail "vm_boot"; exit 1; }
vm_wait_ssh "$name" 22 "$boot_timeout" || { fail "sshd on 22"; exit 1; }
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
status22() { vm_ssh "$name" 22 offroot status 2>/dev/null | grep -q "^offroot status: $1"; }
status1022() { vm_ssh "$name" 1022 offroot status 2>/dev/null | grep -q "^offroot status: $1"; }
answers1022() { OFFROOT_VM_SSH_TIMEOUT=15 vm_ssh "$name" 1022 true 2>/dev/null; }
check "stock boot: no emergency environment" status22 NO-EMERGENCY-ENVIRONMENT
check_not "stock boot: nothing on 1022" answers1022

vm_ssh "$name" 22 'set -e; mkdir -p /srv/data; for i in 1 2; do head -c 8M /dev/urandom > /srv/data/file$i; done
    cp -a /usr/bin /srv/data/bin-copy; cd /srv/data; find . -type f -exec sha256sum {} + | sort -k2 > /srv/sums; sync' \
    || { fail "writing the test data"; exit 1; }

# Arm, timed from the command to 1022 answering a login.
t0=$(_vm_now)
out=$(vm_ssh "$name" 22 offroot arm 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "offroot arm" test "$rc" = 0 || exit 1
check "1022 answers after arm" vm_wait_ssh "$name" 1022 60 || exit 1
arm_seconds=$(_vm_since "$t0")
status=$(vm_ssh "$name" 1022 offroot status 2>&1)
echo "$status" | sed 's/^/    /'
check "arm: status NORMAL from the emergency session" grep -q '^offroot status: NORMAL' <<< "$status"
check "arm: the root switch is tmpfs" grep -q '^root switch: tmpfs' <<< "$status"
ram=$(sed -n 's/^RAM kept by rootfs: //p' <<< "$status")
again=$(vm_ssh "$name" 22 offroot arm 2>&1 || true)
check "arm: a second arm says it is already armed" grep -q 'already armed' <<< "$again"

# The watcher keeps the emergency dropbear: shielded from the OOM killer,
# started again within seconds when killed, in NORMAL and in DETACHED.
check "the listener is shielded from the OOM killer (-1000)" \
    test "$(vm_ssh "$name" 22 'cat /proc/$(cat /run/offroot/dropbear.pid)/oom_score_adj')" = -1000
check "NORMAL: dropbear killed, started again by its watcher" dropbear_restarts "$name" 22 22

# The cycle, as after an armed boot.
out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "enter after arm" test "$rc" = 0 || exit 1
enter_line=$(grep 'DETACHED:' <<< "$out" || true)
check "DETACHED" status1022 DETACHED
check "e2fsck -f of the unmounted root is clean" vm_ssh "$name" 1022 e2fsck -f -y /dev/vda
check "DETACHED: dropbear killed, started again by its watcher" dropbear_restarts "$name" 1022 1022
check "DETACHED: still DETACHED after the restart" status1022 DETACHED
out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "return" test "$rc" = 0 || exit 1
return_line=$(grep 'NORMAL:' <<< "$out" || true)
check "sshd on 22 answers again" vm_wait_ssh "$name" 22 120
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
check "every checksum matches" vm_ssh "$name" 22 'cd /srv/data && sha256sum --quiet -c /srv/sums'
check "after return: NORMAL, from port 22" status22 NORMAL
check "after return: 1022 still answers" answers1022
if [ "$init" = systemd ]; then
    check "after return: no failed units" no_failed_units "$name"
fi

# Disarm, then the next boot is stock.
out=$(vm_ssh "$name" 22 offroot disarm 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "offroot disarm" test "$rc" = 0
check "disarm: no emergency environment" status22 NO-EMERGENCY-ENVIRONMENT
check_not "disarm: nothing on 1022" answers1022
check "disarm: the tmpfs is gone" vm_ssh "$name" 22 '! mountpoint -q /run/offroot/rootfs'
# The harness's QEMU does not reboot (-no-reboot): power off and boot again.
vm_poweroff "$name" 22 || fail "powered off after disarm"
vm_boot "$name" || { fail "vm_boot after disarm"; exit 1; }
check "the next boot after disarm comes up" vm_wait_ssh "$name" 22 "$boot_timeout"
check "the next boot is stock: no emergency environment" status22 NO-EMERGENCY-ENVIRONMENT
check_not "the next boot is stock: nothing on 1022" answers1022

echo "arm-now $label figures: arm to 1022 answering ${arm_seconds} s; RAM held ${ram:-?};" \
    "${enter_line:-no DETACHED line} / ${return_line:-no NORMAL line}"
vm_poweroff "$name" 22 || fail "powered off"
[ "$failed" -eq 0 ]
