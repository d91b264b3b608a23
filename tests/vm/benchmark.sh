#!/bin/bash
# One offroot cycle in a throwaway guest, measured and shown: the states as
# `offroot status` reports them, the seconds of enter (service stop and
# offroot's own share) and of return to sshd answering, against a full
# reboot of the same guest, and the RAM kept by rootfs. The README's main
# command runs this. Prints figures; asserts nothing beyond the cycle
# working.
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
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
show() { vm_ssh "$name" 1022 offroot status | sed 's/^/   | /'; }

say "preparing a $suite/$init guest with $(basename "$deb") (armed with a key)"
offroot_guest "$name" "$suite" "$init" "$deb"
vm_boot "$name"
vm_wait_ssh "$name" 22 300
vm_wait_ssh "$name" 1022 60
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
cold_boot=$(cat "$(vm_dir "$name")/ssh-ready-22")
ram=$(vm_ssh "$name" 1022 offroot status --json | sed -n 's/.*"rootfs_bytes":\([0-9]*\).*/\1/p')

say "NORMAL (ssh -p 1022 root@guest; offroot status)"
show

say "offroot enter"
t=$(now)
enter_out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1)
enter_wall=$(since "$t")
echo "$enter_out" | sed 's/^/   | /'
say "DETACHED: the disk is free"
show
vm_ssh "$name" 1022 e2fsck -f -y /dev/vda 2>&1 | tail -n 1 | sed 's/^/   | e2fsck: /'

say "offroot return"
t=$(now)
return_out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return 2>&1)
vm_wait_ssh "$name" 22 300
return_wall=$(since "$t")
echo "$return_out" | sed 's/^/   | /'
say "NORMAL again"
show

say "a full reboot of the same guest, for comparison"
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
    "return: offroot return to sshd answering on 22" "${return_sshd:-?} s (seen from the host: $return_wall s)" \
    "full reboot to sshd answering (shutdown + boot)" "$reboot_total s ($shutdown s + $reboot_boot s)" \
    "ratio return / full reboot" "$(awk -v a="${return_sshd:-0}" -v b="$reboot_total" 'BEGIN { printf "%.2f", a / b }')" \
    "cold boot to sshd (first boot)" "$cold_boot s" \
    "RAM kept by rootfs in NORMAL state" "$(awk -v b="${ram:-0}" 'BEGIN { printf "%.2f MiB", b / 1048576 }') (${ram:-?} bytes)"
