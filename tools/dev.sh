#!/bin/sh
# The project's one entry point on a fresh Debian 12 machine (as root):
#   tools/dev.sh main     install what the build needs, build, run the main job
#   tools/dev.sh test     install what the tests need, build, run every test
#                         but the Debian testing guests (CI gates on 12 and 13)
#   tools/dev.sh testing  the same, then only the Debian testing guests' tests
# Idempotent: a second run installs nothing and rebuilds what changed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${OFFROOT_BUILD_DIR:-$top/build}

say() { printf '== %s\n' "$*"; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: the build installs packages and the tests mount filesystems"

build_packages="cmake g++ make catch2 file binutils"
# busybox: the namespace tests copy it into a fake rootfs; dropbear-bin,
# initramfs-tools, cpio and a kernel: the hook test builds a real image.
# ansible-core, ansible-lint, python3-pytest: the Ansible collection's tests.
# dnsmasq-base, isc-dhcp-client, dhcpcd-base: the DHCP clients' namespace
# tests (the binaries only: no service starts on this machine).
test_packages="busybox util-linux coreutils dropbear-bin initramfs-tools cpio linux-image-cloud-amd64 ansible-core ansible-lint python3-pytest dnsmasq-base isc-dhcp-client dhcpcd-base"
# The Debian package, and the VMs that boot it. zstd: the chroots the
# package is also built in (tests/build, mmdebstrap) are cached compressed.
package_packages="debhelper dpkg-dev fakeroot lintian e2fsprogs zstd"
vm_packages="mmdebstrap qemu-system-x86 openssh-client iproute2 debian-archive-keyring"

install_packages() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || die "apt-get update failed: is the Debian mirror reachable?"
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null || die "apt-get install$missing failed"
}

configure_and_build() {
    say "building in $build"
    cmake -S "$top" -B "$build" -DOFFROOT_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j "$(nproc)"
}

# dpkg-buildpackage writes next to the source tree; the results are moved
# into the build directory, and the package gets a fixed name the VM tests
# find: $build/deb/offroot.deb. Its jobs: one per core (debhelper's default
# is one). Its argument: more DEB_BUILD_OPTIONS.
build_package() {
    opts="parallel=$(nproc) ${1:-}"
    say "building the Debian package (DEB_BUILD_OPTIONS=$opts)"
    (cd "$top" && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -us -uc -b) > "$build/dpkg-buildpackage.log" 2>&1 \
        || { tail -n 40 "$build/dpkg-buildpackage.log"; die "dpkg-buildpackage failed (log: $build/dpkg-buildpackage.log)"; }
    rm -rf "$build/deb"
    mkdir -p "$build/deb"
    parent=$(dirname "$top")
    version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
    for f in "$parent"/offroot_"$version"_*.deb "$parent"/offroot-dbgsym_"$version"_*.deb \
        "$parent"/offroot_"$version"_*.changes "$parent"/offroot_"$version"_*.buildinfo; do
        [ -e "$f" ] && mv -f "$f" "$build/deb/"
    done
    cp "$build/deb/offroot_${version}_$(dpkg --print-architecture).deb" "$build/deb/offroot.deb"
    say "lintian"
    lintian --fail-on error,warning "$build/deb/offroot_$version"_*.changes \
        || die "lintian found errors or warnings"
}

main_job() {
    say "offroot --version: $("$build/runtime/offroot" --version)"
    say "one emergency cycle in a throwaway Debian 12 VM, with the package just built"
    # One cycle shows it working; the benchmark table takes medians of three.
    OFFROOT_BENCH_CYCLES=${OFFROOT_BENCH_CYCLES:-1} "$top/tests/vm/benchmark.sh" "$build/deb/offroot.deb" bookworm systemd
}

case "${1:-}" in
main)
    # shellcheck disable=SC2086 # one argument per package
    install_packages $build_packages $test_packages $package_packages $vm_packages
    configure_and_build
    build_package
    main_job
    ;;
test|testing)
    # shellcheck disable=SC2086 # one argument per package
    install_packages $build_packages $test_packages $package_packages $vm_packages
    configure_and_build
    # The package's own test step (dh_auto_test: the unit tests) would
    # compile and run again what ctest -L unit runs below, from the same
    # sources with the same compiler; build.trixie runs it with Debian 13's.
    if [ "$1" = test ]; then build_package nocheck; else build_package; fi
    cd "$build"
    # CI runs the labels it gates on, by name: unit, ns, hook, build, vm
    # (Debian 12 and 13) and collection (the Ansible collection builds, lints
    # and runs its playbooks against stand-ins). The others run on demand in the build directory
    # (tests/vm/README.md): testing (Debian testing moves under us: also
    # tools/dev.sh testing), layouts (beyond the plain one on Debian 13), dracut, faults
    # and fleet (each past CI's time). Anchored, since -L takes a regex.
    if [ "$1" = test ]; then
        say "running the tests CI gates on (unit, ns, hook, build, vm on Debian 12 and 13, collection; on demand: ctest -L testing|layouts|dracut|faults|fleet)"
        set -- -L '^(unit|ns|hook|build|vm|collection)$'
    else
        say "running the VM tests on Debian testing"
        set -- -L '^testing$'
    fi
    # CI=true turns any test that lacks what it needs into a failure.
    CI=${CI:-true} ctest --output-on-failure --timeout 600 "$@"
    ;;
*)
    die "usage: tools/dev.sh main|test|testing"
    ;;
esac
