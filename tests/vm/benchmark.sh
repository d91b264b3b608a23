#!/bin/bash
# One offroot cycle in a throwaway guest, measured and shown: the states as
# `offroot status` reports them, the seconds of enter (service stop and
# offroot's own share) and of return to sshd answering, against a full
# reboot of the same guest and, where systemd has it (>= 254), against
# `systemctl soft-reboot`, and the RAM kept by rootfs. The README's main
# command runs this. Prints figures; asserts nothing beyond the cycle
# working and each restart bringing sshd back.
#
#   tests/vm/benchmark.sh DEB [SUITE [INIT]]    (default: bookworm systemd)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"

deb=${1:?usage: benchmark.sh DEB [SUITE [INIT]]}
suite=${2:-bookworm}
init=${3:-systemd}
name="bench-$suite-$init"
vm_setup_traps

say() { printf '\n== %s\n' "$*"; }
die() { printf 'benchmark.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
indent() { sed 's/^/   | /'; }
show() { vm_ssh "$name" 1022 offroot status | indent; }
# ratio A B: A / B, or n/a when either figure is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
# Every restart is timed from a guest that has finished booting, so that
# none of them pays for jobs still running from the one before. Prints
# the state systemd reached (sysvinit has no such notion: prints nothing).
settle() {
    [ "$init" = systemd ] || return 0
    OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait 2>/dev/null || true
}

say "preparing a $suite/$init guest with $(basename "$deb") (armed with a key)"
offroot_guest "$name" "$suite" "$init" "$deb"
vm_boot "$name"
vm_wait_ssh "$name" 22 300
vm_wait_ssh "$name" 1022 60
settle >/dev/null
cold_boot=$(cat "$(vm_dir "$name")/ssh-ready-22")
ram=$(vm_ssh "$name" 1022 offroot status --json | sed -n 's/.*"rootfs_bytes":\([0-9]*\).*/\1/p')

# soft-reboot came with systemd 254: trixie has it, bookworm (252) not.
soft_na=""
if [ "$init" != systemd ]; then
    soft_na="n/a: $init has no soft-reboot"
else
    systemd_version=$(vm_ssh "$name" 22 systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
    [ "${systemd_version:-0}" -ge 254 ] || soft_na="n/a: systemd ${systemd_version:-?} has no soft-reboot"
fi

say "NORMAL (ssh -p 1022 root@guest; offroot status)"
show

say "offroot enter"
t=$(now)
enter_out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1)
enter_wall=$(since "$t")
indent <<< "$enter_out"
say "DETACHED: the disk is free"
show
vm_ssh "$name" 1022 e2fsck -f -y /dev/vda 2>&1 | tail -n 1 | sed 's/^/   | e2fsck: /'

say "offroot return"
t=$(now)
return_out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return 2>&1)
vm_wait_ssh "$name" 22 300
return_wall=$(since "$t")
indent <<< "$return_out"
say "NORMAL again"
show

soft_wall=""
if [ -z "$soft_na" ]; then
    say "systemctl soft-reboot over ssh on 22 (systemd $systemd_version), for comparison"
    settled=$(settle)
    boot_id=$(vm_ssh "$name" 22 cat /proc/sys/kernel/random/boot_id)
    t=$(now)
    rc=0
    OFFROOT_VM_SSH_TIMEOUT=60 vm_ssh "$name" 22 systemctl soft-reboot < /dev/null > /dev/null 2>&1 || rc=$?
    # 255: the session was torn down under the command, which soft-reboot may do.
    case $rc in
    0|255) ;;
    *) die "systemctl soft-reboot in $name exited with status $rc: run it by hand in the guest to see why" ;;
    esac
    vm_wait_ssh_down "$name" 22 120 \
        || die "sshd on 22 still answers 120 s after systemctl soft-reboot: look for the soft-reboot in $(vm_dir "$name")/serial.log"
    vm_wait_ssh "$name" 22 300 \
        || die "no sshd on 22 within 300 s after systemctl soft-reboot (serial log: $(vm_dir "$name")/serial.log)"
    soft_wall=$(since "$t")
    after=$(settle)
    [ "$(vm_ssh "$name" 22 cat /proc/sys/kernel/random/boot_id)" = "$boot_id" ] \
        || die "the kernel's boot id changed across systemctl soft-reboot: the guest really rebooted, so ${soft_wall} s is not a soft-reboot figure"
    case "$after" in
    running|degraded) ;;
    *) die "after systemctl soft-reboot systemd says '$after' (was '$settled' before), not running or degraded: systemctl --failed in the guest says why" ;;
    esac
    printf '   | sshd on 22 answered again %s s after the command; systemd: %s (was %s), %s soft-reboot(s) counted, same kernel (boot id)\n' \
        "$soft_wall" "$after" "$settled" "$(vm_ssh "$name" 22 systemctl show -P SoftRebootsCount 2>/dev/null || echo '?')"
    # Information for the developers, not a verdict: soft-reboot restarts
    # userspace on the same root, under an emergency environment that was
    # set up for the boot before it.
    if vm_wait_ssh "$name" 1022 15 2>/dev/null; then
        soft_1022="answers"
    else
        soft_1022="does not answer"
    fi
    say "after soft-reboot: the emergency dropbear on 1022 $soft_1022; offroot status (over 22):"
    vm_ssh "$name" 22 offroot status 2>&1 | indent || true
fi

say "a full reboot of the same guest, for comparison"
settle >/dev/null
t=$(now)
vm_poweroff "$name" 22
shutdown=$(since "$t")
vm_boot "$name"
vm_wait_ssh "$name" 22 300
reboot_boot=$(cat "$(vm_dir "$name")/ssh-ready-22")
reboot_total=$(awk -v a="$shutdown" -v b="$reboot_boot" 'BEGIN { printf "%.1f", a + b }')
vm_poweroff "$name" 22 >/dev/null || true

enter_total=$(sed -n 's/.*DETACHED: .* free, \([0-9.]*\) s after.*/\1/p' <<< "$enter_out")
enter_services=$(sed -n 's/.*(services \([0-9.]*\) s, offroot \([0-9.]*\) s).*/\1/p' <<< "$enter_out")
enter_offroot=$(sed -n 's/.*(services \([0-9.]*\) s, offroot \([0-9.]*\) s).*/\2/p' <<< "$enter_out")
return_sshd=$(sed -n 's/.*NORMAL: sshd on port 22 answers, \([0-9.]*\) s after.*/\1/p' <<< "$return_out")

say "figures ($suite/$init, QEMU TCG, 2 vCPUs, 1 GiB)"
printf '   %-52s %s\n' \
    "enter: offroot enter to block device free" "${enter_total:-?} s (ssh round trip: $enter_wall s)" \
    "  of which the init system stopping services" "${enter_services:-?} s" \
    "  of which offroot's own steps" "${enter_offroot:-?} s" \
    "return: offroot return to sshd answering on 22" "${return_sshd:-?} s (offroot's own figure, in the guest)" \
    "cold boot to sshd (first boot)" "$cold_boot s" \
    "RAM kept by rootfs in NORMAL state" "$(awk -v b="${ram:-0}" 'BEGIN { printf "%.2f MiB", b / 1048576 }') (${ram:-?} bytes)"

# The same clock for all three: the host's, from the command to the first
# successful ssh login on 22 (polled every second, as vm_wait_ssh does).
say "back to sshd answering on 22, seen from the host, each from a settled guest"
printf '   %-52s %s\n' \
    "soft-reboot: systemctl soft-reboot to sshd" "${soft_wall:+$soft_wall s}${soft_na}" \
    "offroot return to sshd" "$return_wall s" \
    "full reboot to sshd (shutdown + boot)" "$reboot_total s ($shutdown s + $reboot_boot s)" \
    "ratio offroot return / soft-reboot" "$(ratio "$return_wall" "$soft_wall")" \
    "ratio offroot return / full reboot" "$(ratio "$return_wall" "$reboot_total")" \
    "ratio soft-reboot / full reboot" "$(ratio "$soft_wall" "$reboot_total")"
[ -z "$soft_na" ] && printf '   %-52s %s\n' "after soft-reboot: emergency dropbear on 1022" "$soft_1022"
exit 0
