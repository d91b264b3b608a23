#!/bin/bash
# One benchmark table: tests/vm/benchmark.sh once per row (suite, init and
# initramfs generator or GRUB-booted disk layout), one after the other --
# never two VMs at once: the figures are timings -- and one Markdown table
# of the `benchmark row:` lines they print, with the date, the commit and
# this machine's nproc. A row whose benchmark fails is a row saying so, with
# its log. The table goes to stdout and to a file, named on the last line.
#
#   tools/benchmark-table.sh [DEB]          (as root; default build/deb/offroot.deb)
#   OFFROOT_BENCH_ROWS="trixie/systemd trixie/systemd/plain"   only these rows
#   OFFROOT_BENCH_OUT=DIR                   where the table and the logs go
#                                           (default $OFFROOT_VM_WORK/benchmark-table-DATE)
# A row is SUITE/INIT[/GENERATOR|LAYOUT], as benchmark.sh's arguments.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bench="$top/tests/vm/benchmark.sh"
me=benchmark-table.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*" >&2; }

all_rows="bookworm/systemd bookworm/sysvinit trixie/systemd trixie/sysvinit
trixie/systemd/dracut trixie/sysvinit/dracut
bookworm/systemd/plain bookworm/sysvinit/plain trixie/systemd/plain trixie/sysvinit/plain
trixie/systemd/lvm"
rows=$(printf '%s\n' "${OFFROOT_BENCH_ROWS:-$all_rows}" | tr -s '[:blank:]' '\n' | sed '/^$/d')

[ $# -le 1 ] || die "usage: $me [DEB] (OFFROOT_BENCH_ROWS limits the rows: e.g. \"trixie/systemd trixie/systemd/plain\")"
deb=${1:-$top/build/deb/offroot.deb}
[ "$(id -u)" = 0 ] || die "run as root: the VM harness mounts images and runs qemu"
[ -f "$deb" ] || die "no package $deb: build it first (tools/dev.sh main builds build/deb/offroot.deb) or name it"
deb=$(readlink -f "$deb")
[ -x "$bench" ] || die "$bench missing or not executable"
[ -n "$rows" ] || die "OFFROOT_BENCH_ROWS names no row"
for row in $rows; do
    case "$row" in
    */*/*/*) die "bad row '$row': SUITE/INIT[/GENERATOR|LAYOUT]" ;;
    */systemd|*/sysvinit|*/systemd/?*|*/sysvinit/?*) ;;
    *) die "bad row '$row': SUITE/INIT[/GENERATOR|LAYOUT], INIT systemd or sysvinit" ;;
    esac
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${OFFROOT_BENCH_OUT:-${OFFROOT_VM_WORK:-/var/tmp/offroot-vm}/benchmark-table-$stamp}
mkdir -p "$out" || die "cannot create $out (set OFFROOT_BENCH_OUT)"
table="$out/benchmark-table.md"
run_date=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git -C "$top" describe --always --dirty 2>/dev/null) || commit="unknown (not a git tree)"
cpus=$(nproc)

child=""
on_signal() {
    if [ -n "$child" ]; then
        say "interrupted: stopping the running benchmark (pid $child)"
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM HUP

results="$out/rows.txt"
: > "$results" || die "cannot write $results"
busy_rows=""
for row in $rows; do
    IFS=/ read -r suite init variant <<< "$row"
    log="$out/$(tr / - <<< "$row").log"
    say "row $row: tests/vm/benchmark.sh $(basename "$deb") $suite $init${variant:+ $variant} (log: $log)"
    t0=$(date +%s)
    # shellcheck disable=SC2086 # no variant: no fourth argument
    "$bench" "$deb" "$suite" "$init" ${variant:+"$variant"} > "$log" 2>&1 < /dev/null &
    child=$!
    rc=0
    wait "$child" || rc=$?
    child=""
    line=$(grep -a '^benchmark row: ' "$log" | tail -n 1)
    # Other guests that ran while the row timed something inflate it too:
    # benchmark.sh counts them as each timed phase begins and ends (its own
    # preparation, a layout builder, is not timed and not counted).
    peak=$(sed -n 's/.* other_qemus=\([0-9]*\).*/\1/p' <<< "$line")
    if [ "${peak:-0}" -gt 0 ]; then
        say "warning: up to $peak other qemu-system process(es) ran during the timed parts of row $row: its timings are inflated"
        busy_rows="$busy_rows $row($peak)"
    fi
    if [ "$rc" -eq 0 ] && [ -n "$line" ]; then
        say "row $row: done in $(( $(date +%s) - t0 )) s"
        printf 'ok\t%s\t%s\n' "$row" "${line#benchmark row: }" >> "$results"
    else
        if [ "$rc" -eq 0 ]; then why="no 'benchmark row:' line"; else why="exit status $rc"; fi
        say "row $row: FAILED ($why) after $(( $(date +%s) - t0 )) s; log: $log"
        tail -n 5 "$log" | sed 's/^/    | /' >&2
        printf 'failed\t%s\t%s; log: %s\n' "$row" "$why" "$log" >> "$results"
    fi
done

{
    echo "Benchmark run of $run_date, commit \`$commit\`, \`nproc\` $cpus; QEMU TCG guests, ${OFFROOT_VM_SMP:-2} vCPUs, ${OFFROOT_VM_MEM:-1024} MiB (\`tools/benchmark-table.sh\`, one \`tests/vm/benchmark.sh\` run per row, one row at a time; each restart ${OFFROOT_BENCH_CYCLES:-3} times per row, medians shown)."
    if [ -n "$busy_rows" ]; then
        echo "Other qemu processes ran while these rows timed something (the most seen, in brackets), so their timings are inflated:$busy_rows."
    fi
    echo
    echo "| suite | init | variant | RAM NORMAL MiB | RAM DETACHED MiB | enter s | services s | offroot s | return s | soft-reboot s | full reboot s | return / soft-reboot | return / reboot | first unit after return s | first unit cold s | udev settle after return s | udev settle cold s | returns s | soft-reboots s | full reboots s |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F '\t' '
        $1 == "ok" {
            delete v
            n = split($3, kv, " ")
            for (i = 1; i <= n; i++) { p = index(kv[i], "="); if (p) v[substr(kv[i], 1, p - 1)] = substr(kv[i], p + 1) }
            split("ram_mib ram_detached_mib enter_s enter_services_s enter_offroot_s return_s soft_reboot_s reboot_s ratio_soft ratio_reboot first_unit_return_s first_unit_cold_s udev_settle_return_s udev_settle_cold_s return_runs_s soft_reboot_runs_s reboot_runs_s", keys, " ")
            line = "| " v["suite"] " | " v["init"] " | " v["variant"]
            for (i = 1; i <= 17; i++) line = line " | " ((keys[i] in v) ? v[keys[i]] : "missing")
            print line " |"
            next
        }
        {
            split($2, r, "/")
            print "| " r[1] " | " r[2] " | " (r[3] == "" ? "initramfs-tools" : r[3]) " | **benchmark failed**: " $3 " | | | | | | | | | | | | | | | | |"
        }' "$results"
    echo
    echo "RAM: rootfs_bytes of \`offroot status --json\` over 1022, in NORMAL and in DETACHED (with the tools brought in at enter)."
    echo "enter: offroot's own figure (block device free), with the init system's service stop and offroot's own steps."
    echo "return, soft-reboot, full reboot (shutdown + boot): the host's clock, from the command to sshd answering on 22, each from a settled guest; the median of the runs, each run in the last three columns (under TCG one guest's return varies by up to 5x from run to run: tests/vm/benchmark.sh says why)."
    echo "first unit (systemd): the guest's kernel log timestamps, from offroot-init's \"handing PID 1 back to\" (after return) or the real root's \"systemd NNN running in system mode\" (cold boot) to systemd's \"Queued start job for default target\"."
    echo "udev settle (sysvinit): the udev init script's \"Waiting for /dev to be fully populated...\" to its \"done.\", stamped by the host as each reaches serial.log (nothing in the guest timestamps them)."
    echo "n/a: does not apply (no soft-reboot in sysvinit or systemd < 254, no units in sysvinit, no udev settle in a systemd boot); missing: applies but the log line was not found (the row's log says which)."
} > "$table" || die "cannot write $table"

cat "$table"
echo
echo "table written to $table"
