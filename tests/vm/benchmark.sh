#!/bin/bash
# One offroot cycle in a throwaway guest, measured and shown: the states as
# `offroot status` reports them, the seconds of enter (service stop and
# offroot's own share) and of return to sshd answering, against a full
# reboot of the same guest and, where systemd has it (>= 254), against
# `systemctl soft-reboot`, the RAM kept by rootfs (NORMAL) and held in
# DETACHED with the tools brought in, and from the guest's kernel log the
# exec-to-first-unit time of systemd (after return and in the cold boot),
# or for sysvinit the udev settle time (the udev init script's "Waiting for
# /dev to be fully populated", stamped on the host as it reaches
# serial.log). The README's main command runs this; tools/benchmark-table.sh
# runs it per suite/init/variant. Prints figures and, last, one
# `benchmark row:` line; asserts nothing beyond the cycle working and each
# restart bringing sshd back.
#
# Each restart (cycle, soft-reboot, full reboot) runs OFFROOT_BENCH_CYCLES
# times (default 3) and the figures are the medians, each run's also shown:
# under TCG one return of the same guest took from 17.6 s to 86.6 s (26
# cycles, the same 66.7k page allocations each), the slow ones spending
# their time in QEMU's invalidation of translated code while the guest
# zeroes pages that held code; cold boots of that guest took 34.4-35.3 s.
#
#   tests/vm/benchmark.sh DEB [SUITE [INIT [GENERATOR|LAYOUT]]]
#   (default: bookworm systemd initramfs-tools; GENERATOR dracut: a
#   vm_generator_image guest; LAYOUT plain, lvm, xfs, btrfs, luks-lvm,
#   mdraid: a vm_layout_image disk booted by SeaBIOS and its GRUB)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"

usage="usage: benchmark.sh DEB [SUITE [INIT [GENERATOR|LAYOUT]]] (GENERATOR: initramfs-tools, dracut; LAYOUT: plain, lvm, xfs, btrfs, luks-lvm, mdraid)"
deb=${1:?$usage}
suite=${2:-bookworm}
init=${3:-systemd}
variant=${4:-initramfs-tools}
[ $# -le 4 ] || { echo "$usage" >&2; exit 2; }
[ -f "$deb" ] || { echo "benchmark.sh: no package $deb (tools/dev.sh builds build/deb/offroot.deb)" >&2; exit 2; }
case "$init" in systemd|sysvinit) ;; *) echo "benchmark.sh: unknown init '$init' (use systemd or sysvinit)" >&2; exit 2 ;; esac
generator=initramfs-tools
layout=""
mapper=/dev/mapper/offroot--vm--vg
case "$variant" in
initramfs-tools|dracut|dracut-systemd-initrd) generator=$variant ;;
plain|xfs|btrfs) layout=$variant root_dev=/dev/vda1 ;;
lvm|luks-lvm) layout=$variant root_dev=$mapper-root ;;
mdraid) layout=$variant root_dev=/dev/md0 ;;
*) echo "benchmark.sh: unknown generator or layout '$variant'; $usage" >&2; exit 2 ;;
esac
name="bench-$suite-$init"
[ "$variant" = initramfs-tools ] || name="$name-$variant"
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}
cycles=${OFFROOT_BENCH_CYCLES:-3}
case "$cycles" in ''|*[!0-9]*|0) echo "benchmark.sh: OFFROOT_BENCH_CYCLES='$cycles' is not a count of cycles (1 or more)" >&2; exit 2 ;; esac
vm_setup_traps

say() { printf '\n== %s\n' "$*"; }
die() { printf 'benchmark.sh: %s\n' "$*" >&2; exit 1; }
# Other guests on the host inflate the timings: each timed phase counts,
# as it begins and ends, the qemu processes that are not this guest's (one
# that has exited as it is read is not counted), and the most seen goes
# into the row (other_qemus=).
others_file=$(vm_dir "$name")/other-qemus
count_others() {
    local n old
    n=$(vm_other_qemus "$name") || return 0
    old=$(cat "$others_file" 2>/dev/null) || old=0
    [ "$n" -le "${old:-0}" ] || echo "$n" > "$others_file"
}
now() { count_others; date +%s.%N; }
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
mib() { awk -v b="$1" 'BEGIN { if (b == "") print "?"; else printf "%.2f", b / 1048576 }'; }
secs() { case "$1" in [0-9]*) echo "$1 s" ;; *) echo "$1" ;; esac; }
# median A B C ...: the middle one (the lower of the middle two); the
# words that are not numbers (a missing figure) are left out; prints
# "missing" when none is a number.
median() {
    printf '%s\n' "$@" | awk '/^[0-9]+(\.[0-9]+)?$/' | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "missing"; else print v[int((NR + 1) / 2)] }'
}
# runs A B C ...: "A, B, C" for the figures line.
runs() { local IFS=,; printf '%s' "$*" | sed 's/,/, /g'; }
# runs_field A B C ...: "A/B/C", a value without spaces for the row line.
runs_field() { local IFS=/; printf '%s' "$*"; }
rootfs_bytes() { vm_ssh "$name" 1022 offroot status --json | sed -n 's/.*"rootfs_bytes": *\([0-9]*\).*/\1/p'; }
boot_args() { [ -n "$layout" ] || vm_generator_cmdline "$generator"; }

# The kernel log of the guest (dmesg: its ring buffer, timestamps in
# seconds since the kernel started), kept in the work dir.
save_dmesg() { vm_ssh "$name" 22 dmesg > "$(vm_dir "$name")/$1" 2>/dev/null || : > "$(vm_dir "$name")/$1"; }
# first_unit_cold FILE — systemd's exec to its first job, cold boot: from
# the line "systemd NNN running in system mode" of the real root's systemd
# to "Queued start job for default target X" (X not initrd.target: a
# dracut systemd initrd prints both lines too, for itself, before the
# switch). Prints seconds, or "missing: ..." naming the line not found.
first_unit_cold() {
    awk '
        function ts(line) { if (match(line, /^\[ *[0-9]+\.[0-9]+\]/)) { t = substr(line, 2, RLENGTH - 2); gsub(/ /, "", t); return t + 0 } return -1 }
        /systemd\[1\]: systemd [0-9][^ ]* running in system mode/ { start = ts($0); next }
        /systemd\[1\]: Queued start job for default target / && !/default target ([Ii]nitrd\.target|Initrd )/ {
            if (start < 0 || start == "") { print "missing: no \"running in system mode\" line before the default target job in the kernel log"; found = 1; exit }
            printf "%.2f\n", ts($0) - start; found = 1; exit }
        BEGIN { start = -1 }
        END { if (!found) print "missing: no \"Queued start job for default target\" line in the kernel log" }' "$1"
}
# first_unit_return FILE — the same after return: from offroot-init's
# "handing PID 1 back to INIT" (logged just before it executes the real
# init, runtime/src/transitions/init_stub.cpp) to the first "Queued start
# job for default target" after it.
first_unit_return() {
    awk '
        function ts(line) { if (match(line, /^\[ *[0-9]+\.[0-9]+\]/)) { t = substr(line, 2, RLENGTH - 2); gsub(/ /, "", t); return t + 0 } return -1 }
        /offroot-init: handing PID 1 back to / { start = ts($0); queued = -1; next }
        start >= 0 && queued < 0 && /systemd\[1\]: Queued start job for default target / { queued = ts($0) }
        BEGIN { start = -1; queued = -1 }
        END {
            if (start < 0) print "missing: no \"offroot-init: handing PID 1 back to\" line in the kernel log"
            else if (queued < 0) print "missing: no \"Queued start job for default target\" line after offroot-init handed PID 1 back"
            else printf "%.2f\n", queued - start }' "$1"
}

# The udev settle of a sysvinit boot: /etc/init.d/udev prints "Waiting for
# /dev to be fully populated..." (log_action_begin_msg), runs udevadm
# settle, and prints "done." ("done (timeout)." when settle failed) after it, on
# the console: serial.log, where nothing timestamps userspace's lines (the
# kernel's [ t ] are on its own lines only). udev_watch_start OUT follows
# serial.log from its current end (a poll every 20 ms, by perl on the host)
# and writes into OUT the host's time when the begin text arrives and when
# the first "done"/"failed" after it does (kernel lines in between are
# skipped). udev_watch_result OUT prints the seconds, or "n/a: ...".
udev_watch_pid=""
udev_watch_start() {
    local out=$1 from_end=${2:-} log
    log="$(vm_dir "$name")/serial.log"
    rm -f "$out"
    [ "$init" = sysvinit ] || return 0
    command -v perl >/dev/null 2>&1 || { echo "benchmark.sh: no perl on the host: the udev settle time will be n/a" >&2; return 0; }
    perl -MTime::HiRes=time,sleep -e '
        my ($log, $out, $from_end) = @ARGV;
        my $deadline = time + 900;
        my $fh;
        until (open($fh, "<", $log)) { exit 0 if time > $deadline; sleep 0.05; }
        binmode $fh;
        seek($fh, 0, 2) if $from_end;
        my ($buf, $begin) = ("", undef);
        while (time < $deadline) {
            my $n = sysread($fh, my $chunk, 65536);
            if (!$n) { sleep 0.02; next; }
            $buf .= $chunk;
            if (!defined $begin) {
                if ($buf =~ m{Waiting for /dev to be fully populated}) { $begin = time; $buf = substr($buf, $+[0]); }
                else { $buf = substr($buf, -200) if length($buf) > 4096; }
                next unless defined $begin;
            }
            (my $clean = $buf) =~ s/\e\[[0-9;?]*[A-Za-z]//g;
            $clean =~ s/\[ *[0-9]+\.[0-9]+\][^
]*(
|$)//g;
            if ($clean =~ m/(done \(timeout\)\.|done\.|failed)/) {
                open(my $o, ">", $out) or exit 1;
                printf $o "begin %.3f
end %.3f
result %s
", $begin, time, $1;
                close $o; exit 0;
            }
        }' "$log" "$out" "$from_end" &
    udev_watch_pid=$!
}
# udev_watch_result OUT [WAIT] — waits up to WAIT s (default 60) for the
# watcher to finish, stops it (by its pid) if it has not, and sets
# udev_figure: the seconds, "n/a: ..." or "missing: ..." (not seen).
udev_figure=""
udev_watch_result() {
    local out=$1 wait=${2:-60} b e r
    udev_figure=""
    [ "$init" = sysvinit ] || { udev_figure="n/a: $init runs no udev settle in its boot"; return 0; }
    if [ -n "$udev_watch_pid" ]; then
        for _ in $(seq 1 "$wait"); do
            kill -0 "$udev_watch_pid" 2>/dev/null || break
            sleep 1
        done
        kill "$udev_watch_pid" 2>/dev/null || true
        wait "$udev_watch_pid" 2>/dev/null || true
        udev_watch_pid=""
    fi
    if [ ! -s "$out" ]; then
        udev_figure="missing: \"Waiting for /dev to be fully populated\" and its \"done\" not seen in serial.log"
        return 0
    fi
    b=$(sed -n 's/^begin //p' "$out"); e=$(sed -n 's/^end //p' "$out"); r=$(sed -n 's/^result //p' "$out")
    udev_figure=$(awk -v b="$b" -v e="$e" -v r="$r" 'BEGIN { printf "%.2f%s\n", e - b, (r ~ /timeout/ ? " (udevadm settle timed out)" : r == "failed" ? " (the udev script said failed)" : "") }')
}
# shellcheck disable=SC2317 # run by the EXIT trap
stop_udev_watch() { [ -z "$udev_watch_pid" ] || { kill "$udev_watch_pid" 2>/dev/null || true; udev_watch_pid=""; }; }
trap 'stop_udev_watch; vm_cleanup' EXIT

if [ -n "$layout" ]; then
    variant_label="layout $layout, booted through GRUB"
    img=$(vm_layout_image "$suite" "$init" "$layout") || { echo "benchmark.sh: no $layout layout image for $suite/$init (see above)" >&2; exit 1; }
else
    variant_label="initramfs by $generator"
    img=$(vm_generator_image "$suite" "$init" "$generator") || { echo "benchmark.sh: no $generator image for $suite/$init (see above)" >&2; exit 1; }
fi
say "preparing a $suite/$init guest ($variant_label) with $(basename "$deb") (armed with a key)"
offroot_guest "$name" "$suite" "$init" "$deb" "$img" "$generator"
dir=$(vm_dir "$name")
echo 0 > "$others_file"
# shellcheck disable=SC2046 # boot_args prints zero or more words
vm_boot "$name" $(boot_args)
udev_watch_start "$dir/udev-cold"
vm_wait_ssh "$name" 22 "$boot_timeout"
vm_wait_ssh "$name" 1022 60
settle >/dev/null
cold_boot=$(cat "$dir/ssh-ready-22")
ram=$(rootfs_bytes)
save_dmesg dmesg-cold
udev_watch_result "$dir/udev-cold" 5
udev_cold=$udev_figure

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

# The offline job of the layout, in DETACHED, on the 1022 session.
offline_job() {
    if [ -z "$layout" ]; then
        vm_ssh "$name" 1022 e2fsck -f -y /dev/vda 2>&1 | tail -n 1 | sed 's/^/   | e2fsck: /'
    else
        case "$layout" in
        xfs) vm_ssh "$name" 1022 xfs_repair -n "$root_dev" 2>&1 | tail -n 1 | sed 's/^/   | xfs_repair -n: /' ;;
        btrfs) vm_ssh "$name" 1022 btrfs check --readonly "$root_dev" 2>&1 | tail -n 1 | sed 's/^/   | btrfs check: /' ;;
        *) vm_ssh "$name" 1022 e2fsck -f -n "$root_dev" 2>&1 | tail -n 1 | sed 's/^/   | e2fsck -n: /' ;;
        esac
    fi
}

# The cycles: per cycle i, enter_*[i] and return_*[i]; the after-return
# figures from the kernel log and serial.log of that return.
enter_totals=() enter_services_runs=() enter_offroot_runs=() enter_walls=()
return_walls=() return_sshds=() udev_returns=() first_unit_returns=()
for i in $(seq 1 "$cycles"); do
    say "cycle $i of $cycles: offroot enter"
    t=$(now)
    enter_out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1)
    enter_walls+=("$(since "$t")")
    indent <<< "$enter_out"
    enter_totals+=("$(sed -n 's/.*DETACHED: .* free, \([0-9.]*\) s after.*/\1/p' <<< "$enter_out")")
    enter_services_runs+=("$(sed -n 's/.*(services \([0-9.]*\) s, offroot \([0-9.]*\) s).*/\1/p' <<< "$enter_out")")
    enter_offroot_runs+=("$(sed -n 's/.*(services \([0-9.]*\) s, offroot \([0-9.]*\) s).*/\2/p' <<< "$enter_out")")
    say "cycle $i: DETACHED, the disk is free"
    show
    [ "$i" -gt 1 ] || ram_detached=$(rootfs_bytes)
    offline_job

    say "cycle $i: offroot return"
    udev_watch_start "$dir/udev-return" 1
    t=$(now)
    return_out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return 2>&1)
    vm_wait_ssh "$name" 22 "$boot_timeout"
    return_walls+=("$(since "$t")")
    indent <<< "$return_out"
    return_sshds+=("$(sed -n 's/.*NORMAL: sshd on port 22 answers, \([0-9.]*\) s after.*/\1/p' <<< "$return_out")")
    say "cycle $i: NORMAL again"
    show
    settle >/dev/null
    save_dmesg "dmesg-return-$i"
    udev_watch_result "$dir/udev-return" 5
    udev_returns+=("$udev_figure")
    if [ "$init" = systemd ]; then
        first_unit_returns+=("$(first_unit_return "$dir/dmesg-return-$i")")
    else
        first_unit_returns+=("n/a: $init has no units")
    fi
done

soft_walls=()
if [ -z "$soft_na" ]; then
    for i in $(seq 1 "$cycles"); do
        say "systemctl soft-reboot $i of $cycles over ssh on 22 (systemd $systemd_version), for comparison"
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
        soft_walls+=("$(since "$t")")
        after=$(settle)
        [ "$(vm_ssh "$name" 22 cat /proc/sys/kernel/random/boot_id)" = "$boot_id" ] \
            || die "the kernel's boot id changed across systemctl soft-reboot: the guest really rebooted, so ${soft_walls[-1]} s is not a soft-reboot figure"
        case "$after" in
        running|degraded) ;;
        *) die "after systemctl soft-reboot systemd says '$after' (was '$settled' before), not running or degraded: systemctl --failed in the guest says why" ;;
        esac
        printf '   | sshd on 22 answered again %s s after the command; systemd: %s (was %s), %s soft-reboot(s) counted, same kernel (boot id)\n' \
            "${soft_walls[-1]}" "$after" "$settled" "$(vm_ssh "$name" 22 systemctl show -P SoftRebootsCount 2>/dev/null || echo '?')"
    done
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

reboot_totals=() reboot_shutdowns=() reboot_boots=()
for i in $(seq 1 "$cycles"); do
    say "a full reboot $i of $cycles of the same guest, for comparison"
    settle >/dev/null
    t=$(now)
    vm_poweroff "$name" 22
    reboot_shutdowns+=("$(since "$t")")
    # shellcheck disable=SC2046 # boot_args prints zero or more words
    vm_boot "$name" $(boot_args)
    vm_wait_ssh "$name" 22 "$boot_timeout"
    reboot_boots+=("$(cat "$(vm_dir "$name")/ssh-ready-22")")
    reboot_totals+=("$(awk -v a="${reboot_shutdowns[-1]}" -v b="${reboot_boots[-1]}" 'BEGIN { printf "%.1f", a + b }')")
    [ "$i" -lt "$cycles" ] || vm_poweroff "$name" 22 >/dev/null || true
done

enter_total=$(median "${enter_totals[@]}")
enter_services=$(median "${enter_services_runs[@]}")
enter_offroot=$(median "${enter_offroot_runs[@]}")
enter_wall=$(median "${enter_walls[@]}")
return_wall=$(median "${return_walls[@]}")
return_sshd=$(median "${return_sshds[@]}")
soft_wall=""
[ ${#soft_walls[@]} -eq 0 ] || soft_wall=$(median "${soft_walls[@]}")
reboot_total=$(median "${reboot_totals[@]}")
shutdown=$(median "${reboot_shutdowns[@]}")
reboot_boot=$(median "${reboot_boots[@]}")
# A figure that is n/a in one run is n/a in all; else the median of the
# numbers, or what the first run said when none is a number.
median_or_first() { case "$1" in n/a*) echo "$1" ;; *) local m; m=$(median "$@"); [ "$m" != missing ] && echo "$m" || echo "$1" ;; esac; }
udev_return=$(median_or_first "${udev_returns[@]}")
if [ "$init" = systemd ]; then
    first_unit_cold_fig=$(first_unit_cold "$dir/dmesg-cold")
    first_unit_return_fig=$(median_or_first "${first_unit_returns[@]}")
else
    first_unit_cold_fig="n/a: $init has no units"
    first_unit_return_fig=$first_unit_cold_fig
fi
# each A B C ...: " (median of N: A, B, C)" after a median; nothing for one
# cycle or a figure that does not apply.
each() { case "$cycles:${1:-}" in 1:*|*:n/a*) ;; *) printf ' (median of %s: %s)' "$cycles" "$(runs "$@")" ;; esac; }

say "figures ($suite/$init, $variant_label, QEMU TCG, $OFFROOT_VM_SMP vCPUs, $OFFROOT_VM_MEM MiB)"
printf '   %-52s %s\n' \
    "enter: offroot enter to block device free" "${enter_total:-?} s$(each "${enter_totals[@]}") (ssh round trip: $enter_wall s)" \
    "  of which the init system stopping services" "${enter_services:-?} s$(each "${enter_services_runs[@]}")" \
    "  of which offroot's own steps" "${enter_offroot:-?} s$(each "${enter_offroot_runs[@]}")" \
    "return: offroot return to sshd answering on 22" "${return_sshd:-?} s$(each "${return_sshds[@]}") (offroot's own figure, in the guest)" \
    "cold boot to sshd (first boot)" "$cold_boot s" \
    "RAM kept by rootfs in NORMAL state" "$(mib "${ram:-}") MiB (${ram:-?} bytes)" \
    "RAM held by rootfs in DETACHED, with the tools" "$(mib "${ram_detached:-}") MiB (${ram_detached:-?} bytes)"

# From the guest's kernel log (dmesg-cold, dmesg-return in the work dir).
say "init start-up, from the guest's kernel log timestamps"
printf '   %-52s %s\n' \
    "systemd exec to its default target job, cold boot" "$(secs "$first_unit_cold_fig")" \
    "  (\"systemd NNN running in system mode\" to \"Queued start job for default target\")" "" \
    "systemd exec to its default target job, after return" "$(secs "$first_unit_return_fig")$(each "${first_unit_returns[@]%% *}")" \
    "  (offroot-init's \"handing PID 1 back to\" to the same)" "" \
    "udev settle, cold boot (serial.log, host clock)" "$(secs "$udev_cold")" \
    "udev settle, after return (serial.log, host clock)" "$(secs "$udev_return")$(each "${udev_returns[@]%% *}")"

# The same clock for all three: the host's, from the command to the first
# successful ssh login on 22 (polled every second, as vm_wait_ssh does).
say "back to sshd answering on 22, seen from the host, each from a settled guest; medians of $cycles"
printf '   %-52s %s\n' \
    "soft-reboot: systemctl soft-reboot to sshd" "${soft_wall:+$soft_wall s$(each "${soft_walls[@]}")}${soft_na}" \
    "offroot return to sshd" "$return_wall s$(each "${return_walls[@]}")" \
    "full reboot to sshd (shutdown + boot)" "$reboot_total s$(each "${reboot_totals[@]}") (shutdown $shutdown s + boot $reboot_boot s, medians)" \
    "ratio offroot return / soft-reboot" "$(ratio "$return_wall" "$soft_wall")" \
    "ratio offroot return / full reboot" "$(ratio "$return_wall" "$reboot_total")" \
    "ratio soft-reboot / full reboot" "$(ratio "$soft_wall" "$reboot_total")"
[ -z "$soft_na" ] && printf '   %-52s %s\n' "after soft-reboot: emergency dropbear on 1022" "$soft_1022"

# One machine-readable line (tools/benchmark-table.sh collects it): values
# without spaces; "n/a" where the figure does not apply to this guest,
# "missing" where it applies but was not found (the lines above say why).
field() {   # VALUE: a number kept, "n/a: ..." -> n/a, anything else -> missing
    case "$1" in
    n/a*) echo n/a ;;
    ""|missing*|\?*) echo missing ;;
    *) v=${1%% *}; case "$v" in *[!0-9.]*|"") echo missing ;; *) echo "$v" ;; esac ;;
    esac
}
echo
echo "benchmark row: suite=$suite init=$init variant=$variant" \
    "ram_mib=$(field "$(mib "${ram:-}")") ram_detached_mib=$(field "$(mib "${ram_detached:-}")")" \
    "enter_s=$(field "${enter_total:-}") enter_services_s=$(field "${enter_services:-}") enter_offroot_s=$(field "${enter_offroot:-}")" \
    "return_s=$(field "$return_wall") soft_reboot_s=$(field "${soft_wall:-${soft_na:-}}") reboot_s=$(field "$reboot_total")" \
    "ratio_soft=$(field "$(ratio "$return_wall" "$soft_wall")") ratio_reboot=$(field "$(ratio "$return_wall" "$reboot_total")")" \
    "first_unit_return_s=$(field "$first_unit_return_fig") first_unit_cold_s=$(field "$first_unit_cold_fig")" \
    "udev_settle_return_s=$(field "$udev_return") udev_settle_cold_s=$(field "$udev_cold")" \
    "cycles=$cycles return_runs_s=$(runs_field "${return_walls[@]}") soft_reboot_runs_s=$(if [ -n "$soft_na" ]; then echo n/a; else runs_field "${soft_walls[@]}"; fi)" \
    "reboot_runs_s=$(runs_field "${reboot_totals[@]}") other_qemus=$(cat "$others_file" 2>/dev/null || echo missing)"
exit 0
