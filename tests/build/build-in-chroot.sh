#!/bin/bash
# Builds the Debian package in a clean chroot of SUITE, as a buildd would:
# the chroot has build-essential and what debian/control's Build-Depends
# resolve to on SUITE (so a Build-Depends that SUITE cannot satisfy fails
# here), dpkg-buildpackage -us -uc -b runs the build and the unit tests
# (dh_auto_test) against SUITE's compiler, Boost and Catch2, then SUITE's
# lintian checks the result.
#
#   build-in-chroot.sh SUITE [SOURCE_DIR [OUT_DIR]]
#
# SUITE: bookworm, trixie or testing. SOURCE_DIR (default: this checkout):
# in a git work tree, the files git tracks plus the untracked ones it does
# not ignore (so a new file counts before it is committed, a build directory
# never does); elsewhere the whole tree but .git, build/ and obj-*/.
# OUT_DIR, if given, receives the logs, the .debs and the .changes.
#
# The chroot is cached as /var/cache/offroot-build/SUITE-KEY.tar.zst
# (OFFROOT_BUILD_CACHE), KEY a hash of the suite, the build relations of
# debian/control and this file: a change to either makes a new one. A chroot
# older than OFFROOT_BUILD_CHROOT_MAX_DAYS (7) is made again, since the
# suites move (testing daily, stable at point releases).
# The mirror is this machine's apt's (tests/lib/debian-mirror.sh).
# Needs root (chroot, mounts), mmdebstrap, unshare, zstd, dpkg-dev.
set -eu

me=build-in-chroot.sh
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { printf '%s: FAIL: %s\n' "$me" "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")

# --install-build-deps DEBIAN_DIR LOG ROOT: mmdebstrap's customize hook
# (ROOT has /proc, /sys and /dev mounted and apt's lists). apt-get build-dep
# reads a source tree's debian/control as dpkg-checkbuilddeps does:
# versions, alternatives, architectures and build profiles.
if [ "${1:-}" = --install-build-deps ]; then
    debian=$2 log=$3 root=$4
    mkdir -p "$root/tmp/offroot-build-deps/debian"
    cp "$debian/control" "$debian/changelog" "$root/tmp/offroot-build-deps/debian/"
    # The log stays only when apt fails: the caller reads the reason there.
    DEBIAN_FRONTEND=noninteractive chroot "$root" \
        apt-get build-dep -y -q /tmp/offroot-build-deps > "$log" 2>&1 || exit 1
    rm -rf "$log" "$root/tmp/offroot-build-deps"
    exit 0
fi

# --inside ROOT [--nobody] COMMAND...: runs COMMAND in the chroot ROOT with a
# fresh /proc, as root or (--nobody) as nobody. Called through unshare with
# new mount, PID, network, UTS and IPC namespaces: the mounts and every
# process of the build go away with the namespace, whichever way the build
# ends, and the build has no network.
if [ "${1:-}" = --inside ]; then
    root=$2
    shift 2
    user=0:0 home=/root
    if [ "${1:-}" = --nobody ]; then
        user=65534:65534 home=/tmp
        shift
    fi
    # The root a mount of its own, as on a buildd: the unit tests read the
    # live mount table, which hides the mounts above a chroot's root.
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t sysfs -o ro sysfs "$root/sys"
    exec chroot --userspec="$user" "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" \
        LC_ALL=C.UTF-8 DEB_BUILD_OPTIONS="parallel=$(($(nproc) < 2 ? $(nproc) : 2))" "$@"
fi

usage="usage: $me bookworm|trixie|testing [SOURCE_DIR [OUT_DIR]]"
if [ $# -lt 1 ] || [ $# -gt 3 ]; then die "$usage"; fi
suite=$1
case "$suite" in bookworm|trixie|testing) ;; *) die "unknown suite '$suite'; $usage" ;; esac
src=$(cd "${2:-$here/../..}" && pwd -P) || die "no source directory '${2:-}'"
out=${3:-}
cache=${OFFROOT_BUILD_CACHE:-/var/cache/offroot-build}
max_days=${OFFROOT_BUILD_CHROOT_MAX_DAYS:-7}

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap --mode=root, chroot, mounts)"
for tool in mmdebstrap unshare zstd dpkg-parsechangelog timeout; do
    command -v "$tool" >/dev/null || die "$tool not found: tools/dev.sh test installs it"
done
[ -f "$src/debian/control" ] || die "'$src' is not offroot's source tree (no debian/control)"

# shellcheck source=../lib/debian-mirror.sh
. "$here/../lib/debian-mirror.sh"
mirror=$(debian_mirror) || die "no Debian mirror (see above)"

# Every build relation of the source paragraph, as dpkg reads them.
relations=$(perl -MDpkg::Control::Info -e '
    my $s = Dpkg::Control::Info->new($ARGV[0])->get_source;
    for my $f (qw(Build-Depends Build-Depends-Arch Build-Depends-Indep
                  Build-Conflicts Build-Conflicts-Arch Build-Conflicts-Indep)) {
        print "$f: $s->{$f}\n" if defined $s->{$f};
    }' "$src/debian/control") || die "cannot read the build relations of $src/debian/control"
key=$({ printf '%s\n' "$suite" "$relations"; cat "$self"; } | sha256sum | cut -c1-16)
tarball=$cache/$suite-$key.tar.zst

work=$(mktemp -d "${TMPDIR:-/var/tmp}/offroot-build-$suite.XXXXXX") || die "cannot make a work directory"
partial=""
cleanup() {
    [ -z "$partial" ] || rm -f "$partial"
    # The mounts lived in the build's own namespace; should one have leaked
    # into ours all the same, rm must not walk into the host's /dev.
    if awk -v p="$work/" 'substr($5, 1, length(p)) == p { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        say "leaving $work in place: something is mounted below it; unmount it, then remove it"
        return 0
    fi
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Prints the log's tail and dies with the one-line reason.
fail_with_log() {
    log=$1
    shift
    if [ -n "$out" ]; then
        mkdir -p "$out"
        cp "$log" "$out/"
        log=$out/$(basename "$log")
    fi
    tail -n 40 "$log" >&2
    die "$* (log: $log)"
}

# What an earlier run left in OUT_DIR would pass for this run's.
if [ -n "$out" ] && [ -d "$out" ]; then
    rm -f "$out/build-deps.log" "$out/mmdebstrap.log" "$out/build-$suite.log" "$out/lintian-$suite.log" \
        "$out"/offroot_*.deb "$out"/offroot-dbgsym_*.deb "$out"/offroot_*.changes "$out"/offroot_*.buildinfo
fi

if [ -f "$tarball" ] && [ -n "$(find "$tarball" -mtime +"$max_days")" ]; then
    say "the cached $suite chroot is older than $max_days days: making it again"
    rm -f "$tarball"
fi
if [ ! -f "$tarball" ]; then
    mkdir -p "$cache"
    partial=$cache/.partial-$suite-$key-$$.tar.zst
    say "making the $suite chroot with offroot's Build-Depends from $mirror (cached as $tarball)"
    t0=$(date +%s)
    # No recommends, as on the buildds: a build that needs one must say so.
    # Check-Valid-Until: the mirror may be a frozen snapshot.
    rc=0
    timeout --kill-after=30 1500 mmdebstrap --mode=root --variant=buildd --include=lintian \
        --aptopt='APT::Install-Recommends "false"' \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --customize-hook="'$self' --install-build-deps '$src/debian' '$work/build-deps.log' \"\$1\"" \
        "$suite" "$partial" "$mirror" > "$work/mmdebstrap.log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        if [ "$rc" = 124 ]; then
            fail_with_log "$work/mmdebstrap.log" "mmdebstrap of $suite timed out after 1500 s"
        fi
        if [ -s "$work/build-deps.log" ]; then
            # apt names what it could not satisfy on a line with "Depends:"
            # or an "E:" line.
            why=$(grep -m 1 -E 'Depends:|^E:' "$work/build-deps.log" | sed 's/^ *//') || why="see the log"
            fail_with_log "$work/build-deps.log" "the Build-Depends do not resolve on $suite: $why"
        fi
        fail_with_log "$work/mmdebstrap.log" "mmdebstrap could not make the $suite chroot from $mirror"
    fi
    mv -f "$partial" "$tarball"
    partial=""
    for old in "$cache/$suite"-*.tar.zst; do
        [ "$old" = "$tarball" ] || rm -f "$old"
    done
    say "chroot made in $(($(date +%s) - t0)) s"
fi

root=$work/root
mkdir -p "$root"
tar -C "$root" --zstd -xpf "$tarball" || die "cannot unpack $tarball (remove it: the next run makes it again)"

# dpkg-buildpackage writes the packages beside the source directory.
mkdir -p "$root/build/offroot"
if git -C "$src" rev-parse --show-toplevel 2>/dev/null | grep -qxF "$src"; then
    # Tracked files deleted in the work tree are left out.
    (cd "$src" && git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do
            if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done | tar --null --no-recursion -T - -cf -) | tar -C "$root/build/offroot" -xf - \
        || die "cannot copy the files of $src into the chroot"
else
    tar -C "$src" --exclude=./.git --exclude=./build --exclude='./obj-*' -cf - . \
        | tar -C "$root/build/offroot" -xf - || die "cannot copy $src into the chroot"
fi

# in_chroot SECONDS COMMAND...: COMMAND in the chroot, killed after SECONDS.
in_chroot() {
    limit=$1
    shift
    timeout --kill-after=30 "$limit" \
        unshare --mount --propagation private --pid --kill-child --net --uts --ipc \
        "$self" --inside "$root" "$@"
}

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
say "building offroot $version on $suite (dpkg-buildpackage -us -uc -b)"
t0=$(date +%s)
rc=0
in_chroot 1500 sh -c 'cd /build/offroot && dpkg-buildpackage -us -uc -b' > "$work/build-$suite.log" 2>&1 || rc=$?
if [ "$rc" = 124 ]; then
    fail_with_log "$work/build-$suite.log" "dpkg-buildpackage on $suite timed out after 1500 s"
elif [ "$rc" != 0 ]; then
    why=$(grep -m 1 -E 'dpkg-checkbuilddeps: error|error:|CMake Error|tests failed out of|Error [0-9]' "$work/build-$suite.log") \
        || why="see the log"
    fail_with_log "$work/build-$suite.log" "dpkg-buildpackage failed on $suite: $why"
fi
build_time=$(($(date +%s) - t0))
# dh_auto_test must have run the unit tests, against this suite's Catch2.
tests=$(grep -m 1 -E '^100% tests passed, 0 tests failed out of [1-9]' "$work/build-$suite.log") \
    || fail_with_log "$work/build-$suite.log" "the package build on $suite ran no unit test (dh_auto_test)"
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
catch2=$(in_chroot 60 dpkg-query -W -f '${Version}' catch2) || catch2=unknown

t0=$(date +%s)
# lintian only reads, and warns when it runs as root.
if ! in_chroot 600 --nobody sh -c 'lintian --fail-on error,warning /build/offroot_*.changes' \
    > "$work/lintian-$suite.log" 2>&1; then
    why=$(grep -m 1 -E '^[EW]: ' "$work/lintian-$suite.log") || why="see the log"
    fail_with_log "$work/lintian-$suite.log" "lintian on $suite: $why"
fi
lintian_time=$(($(date +%s) - t0))

if [ -n "$out" ]; then
    mkdir -p "$out"
    cp "$work/build-$suite.log" "$work/lintian-$suite.log" "$root/build/"*.deb \
        "$root/build/"*.changes "$root/build/"*.buildinfo "$out/"
fi
say "ok: offroot $version built on $suite in $build_time s (catch2 $catch2; $tests), lintian clean in $lintian_time s${out:+; results in $out}"
