#!/bin/sh
# offroot's executables run in the initramfs and from RAM once the disk is
# gone: nothing may be loaded from a filesystem when they start. Fails when
# one has a program interpreter (a PT_INTERP program header) or a DYNAMIC
# section that needs shared libraries (NEEDED entries); a static-pie's
# DYNAMIC section without NEEDED is fine.
#
# usage: check-static.sh EXECUTABLE...
set -eu

fail() { echo "check-static: $*" >&2; exit 1; }

[ "$#" -gt 0 ] || fail "usage: check-static.sh EXECUTABLE..."
command -v readelf >/dev/null || fail "readelf not found: apt-get install binutils"

bad=0
for exe in "$@"; do
    if [ ! -f "$exe" ]; then
        echo "check-static: $exe: no such file (build first)" >&2
        bad=1
        continue
    fi
    if ! headers=$(LC_ALL=C readelf --wide --program-headers "$exe" 2>&1); then
        echo "check-static: $exe: readelf --program-headers failed: $headers" >&2
        bad=1
        continue
    fi
    if ! dynamic=$(LC_ALL=C readelf --wide --dynamic "$exe" 2>&1); then
        echo "check-static: $exe: readelf --dynamic failed: $dynamic" >&2
        bad=1
        continue
    fi
    this_bad=0
    if printf '%s\n' "$headers" | grep -q '^[[:space:]]*INTERP[[:space:]]'; then
        interp=$(printf '%s\n' "$headers" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]$/\1/p')
        echo "check-static: $exe: has a PT_INTERP program header (interpreter ${interp:-unnamed}): it is dynamically linked" >&2
        this_bad=1
    fi
    needed=$(printf '%s\n' "$dynamic" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | tr '\n' ' ' | sed 's/ $//')
    if [ -n "$needed" ]; then
        echo "check-static: $exe: its DYNAMIC section has NEEDED entries: $needed" >&2
        this_bad=1
    fi
    if [ "$this_bad" -eq 0 ]; then
        echo "check-static: $exe: static (no PT_INTERP, no NEEDED)"
    else
        bad=1
    fi
done
exit "$bad"
