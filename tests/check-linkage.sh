#!/bin/sh
# offroot's executables run in the initramfs and from RAM once the disk is
# gone: what they load when they start must be in the emergency environment.
#   --static EXE     run-init: nothing at all (no PT_INTERP, no NEEDED; a
#                    static-pie's DYNAMIC section without NEEDED is fine)
#   --libc-only EXE  offroot: only the C library and its loader, which
#                    busybox and dropbear bring into the environment anyway;
#                    libstdc++ and libgcc must be linked in
#
# usage: check-linkage.sh (--static EXE | --libc-only EXE)...
set -eu

fail() { echo "check-linkage: $*" >&2; exit 1; }

[ "$#" -gt 0 ] || fail "usage: check-linkage.sh (--static EXE | --libc-only EXE)..."
command -v readelf >/dev/null || fail "readelf not found: apt-get install binutils"

bad=0
while [ "$#" -gt 0 ]; do
    kind=$1
    exe=${2:-}
    shift 2 || fail "$kind needs an executable"
    case "$kind" in
        --static|--libc-only) ;;
        *) fail "unknown kind $kind (usage: check-linkage.sh (--static EXE | --libc-only EXE)...)" ;;
    esac
    if [ ! -f "$exe" ]; then
        echo "check-linkage: $exe: no such file (build first)" >&2
        bad=1
        continue
    fi
    if ! headers=$(LC_ALL=C readelf --wide --program-headers "$exe" 2>&1); then
        echo "check-linkage: $exe: readelf --program-headers failed: $headers" >&2
        bad=1
        continue
    fi
    if ! dynamic=$(LC_ALL=C readelf --wide --dynamic "$exe" 2>&1); then
        echo "check-linkage: $exe: readelf --dynamic failed: $dynamic" >&2
        bad=1
        continue
    fi
    interp=$(printf '%s\n' "$headers" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]$/\1/p')
    has_interp=no
    printf '%s\n' "$headers" | grep -q '^[[:space:]]*INTERP[[:space:]]' && has_interp=yes
    needed=$(printf '%s\n' "$dynamic" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | tr '\n' ' ' | sed 's/ $//')
    this_bad=0
    if [ "$kind" = --static ]; then
        if [ "$has_interp" = yes ]; then
            echo "check-linkage: $exe: has a PT_INTERP program header (interpreter ${interp:-unnamed}): it is dynamically linked" >&2
            this_bad=1
        fi
        if [ -n "$needed" ]; then
            echo "check-linkage: $exe: its DYNAMIC section has NEEDED entries: $needed" >&2
            this_bad=1
        fi
        [ "$this_bad" -eq 0 ] && echo "check-linkage: $exe: static (no PT_INTERP, no NEEDED)"
    else
        for lib in $needed; do
            case "$lib" in
                libc.so.6|ld-linux-*.so.*) ;;
                *) echo "check-linkage: $exe: needs $lib, which the emergency environment does not hold (link it statically)" >&2
                   this_bad=1 ;;
            esac
        done
        case "$needed" in
            *libc.so.6*) ;;
            *) echo "check-linkage: $exe: does not need libc.so.6 (NEEDED: ${needed:-none}): not the resident linkage" >&2
               this_bad=1 ;;
        esac
        [ "$this_bad" -eq 0 ] && echo "check-linkage: $exe: needs only the C library ($needed; interpreter ${interp:-none})"
    fi
    [ "$this_bad" -eq 0 ] || bad=1
done
exit "$bad"
