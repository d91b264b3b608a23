#!/bin/sh
# Runs one namespace scenario for real: fresh mount and PID namespaces whose
# root mount is a tmpfs playing the kernel's rootfs (pivot_root makes it the
# top of the namespace, so a chroot escape cannot climb past it), with a
# busybox and offroot's binaries inside. The scenario script runs as
# PID 1 there, like the initramfs' /init.
#
# usage: run-scenario.sh BIN_DIR SCENARIO [TIMEOUT_SECONDS]
# Passes when the scenario's PID 1 exits 0, printed "scenario complete" and
# no line starting with "not ok".
set -eu

bin_dir=$1
scenario=$2
limit=${3:-120}
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "run-scenario: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (mount and PID namespaces, real mounts); run the suite as root"
for tool in unshare pivot_root timeout; do
    command -v "$tool" >/dev/null || fail "$tool not found (util-linux, coreutils)"
done
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || fail "busybox not found: apt-get install busybox"

for b in run-init offroot; do
    [ -x "$bin_dir/$b" ] || fail "$bin_dir/$b missing: build first"
done
[ -f "$here/scenarios/$scenario.sh" ] || fail "no scenario $scenario"

work=$(mktemp -d /tmp/offroot-ns.XXXXXX)
log=$work/output
trap 'rm -rf "$work"' EXIT

set +e
timeout --kill-after=5 "$limit" \
    unshare --mount --pid --fork --kill-child --propagation private -- \
    /bin/sh "$here/enter-fake-rootfs.sh" "$work" "$busybox" "$bin_dir" "$here" "$scenario" >"$log" 2>&1
status=$?
set -e
if [ -s "$work/console" ]; then
    echo "--- console ---" >> "$log"
    cat "$work/console" >> "$log"
fi
cat "$log"

[ "$status" -eq 124 ] && fail "scenario $scenario timed out after ${limit}s"
[ "$status" -eq 0 ] || fail "scenario $scenario: PID 1 exited with status $status"
grep -q '^not ok' "$log" && fail "scenario $scenario: a check failed"
grep -q '^scenario complete$' "$log" || fail "scenario $scenario did not reach its end"
echo "run-scenario: $scenario passed"
