# shellcheck shell=bash
# shellcheck disable=SC2317  # trap handlers look unreachable to shellcheck
# offroot VM test harness: Debian guests under QEMU (TCG), driven over ssh.
# Source it from a bash test script:   . "$(dirname "$0")/lib.sh"
# Every function returns non-zero with a message on stderr naming what failed; they do not
# rely on the caller's `set -e` (which bash ignores inside `if`/`||`).
# See README.md beside this file for the functions and variables.

if [ -z "${BASH_VERSION:-}" ]; then
    echo "tests/vm/lib.sh: ERROR: this library needs bash; run the test with bash" >&2
    return 1 2>/dev/null || exit 1
fi

_VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/debian-mirror.sh
. "$_VM_LIB_DIR/../lib/debian-mirror.sh"

OFFROOT_VM_CACHE=${OFFROOT_VM_CACHE:-/var/cache/offroot-vm}
OFFROOT_VM_WORK=${OFFROOT_VM_WORK:-/var/tmp/offroot-vm}
OFFROOT_VM_ACCEL=${OFFROOT_VM_ACCEL:-tcg,thread=multi}
OFFROOT_VM_SMP=${OFFROOT_VM_SMP:-2}
# RDRAND (TCG emulates it): the guest kernel trusts it and has its random
# pool ready before userspace. Without it the pool comes ready during the
# boot's udev run, and the static key that flips then is patched into live
# kernel text (int3 and IPIs) while the other vCPU runs it: under
# multi-threaded TCG that oopsed a guest once ("Oops: int3" in
# crng_make_state from udev-worker's getrandom, then "Fatal exception in
# interrupt").
OFFROOT_VM_CPU=${OFFROOT_VM_CPU:-qemu64,+rdrand}
OFFROOT_VM_MEM=${OFFROOT_VM_MEM:-1024}
OFFROOT_VM_CMDLINE=${OFFROOT_VM_CMDLINE:-root=/dev/vda ro console=ttyS0,115200 panic=-1}
OFFROOT_VM_RESTRICT=${OFFROOT_VM_RESTRICT:-on}
OFFROOT_VM_MAX_LIFETIME=${OFFROOT_VM_MAX_LIFETIME:-3600}
OFFROOT_VM_SSH_TIMEOUT=${OFFROOT_VM_SSH_TIMEOUT:-600}
OFFROOT_VM_POWEROFF_TIMEOUT=${OFFROOT_VM_POWEROFF_TIMEOUT:-120}
OFFROOT_VM_BUILD_TIMEOUT=${OFFROOT_VM_BUILD_TIMEOUT:-1800}
OFFROOT_VM_INSTALL_TIMEOUT=${OFFROOT_VM_INSTALL_TIMEOUT:-1200}
OFFROOT_VM_QEMU=${OFFROOT_VM_QEMU:-qemu-system-x86_64}

_VM_STARTED=""          # names of the VMs this shell booted (for vm_cleanup)

_vm_err() { echo "vm: ERROR: $*" >&2; }
_vm_log() { echo "vm: $*" >&2; }

_vm_check_name() {
    case "${1:-}" in
    ""|*[!A-Za-z0-9._-]*|.*) _vm_err "bad VM name '${1:-}' (use letters, digits, . _ -, not starting with .)"; return 1 ;;
    esac
}

_vm_dir() { printf '%s/%s\n' "$OFFROOT_VM_WORK" "$1"; }

# The -drive argument of the root disk; also how a qemu is recognised as NAME's.
_vm_drive_arg() { printf 'file=%s/disk.img,format=raw,if=none,id=disk0,cache=unsafe,discard=unmap\n' "$1"; }

# vm_dir NAME — the work dir of a VM (disk.img, serial.log, qemu.log, ports, ...)
vm_dir() { _vm_check_name "${1:-}" || return 1; _vm_dir "$1"; }

# Single-quote a string for a remote POSIX shell (also busybox ash).
_vm_shquote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

_vm_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || {
            _vm_err "'$t' not found: apt-get install -y mmdebstrap qemu-system-x86 openssh-client e2fsprogs iproute2 util-linux"
            return 1; }
    done
}

# Removes a directory tree, but first unmounts anything still mounted below it (a bind of
# /dev left by an interrupted install must never be descended into), and never crosses a
# filesystem boundary.
_vm_safe_rm() {
    local d=$1 m left
    [ -e "$d" ] || return 0
    d=$(readlink -f "$d") || return 1
    case "$d" in /|"") _vm_err "refusing to remove '$d'"; return 1 ;; esac
    for m in $(awk -v p="$d/" 'substr($5, 1, length(p)) == p { print length($5), $5 }' /proc/self/mountinfo | sort -rn | cut -d' ' -f2); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    left=$(awk -v p="$d/" 'substr($5, 1, length(p)) == p { print $5 }' /proc/self/mountinfo)
    [ -z "$left" ] || { _vm_err "cannot remove $d: still mounted below it: $left (unmount by hand)"; return 1; }
    rm -rf --one-file-system "$d" || { _vm_err "cannot remove $d"; return 1; }
}

_vm_now() { date +%s.%N; }

# _vm_run_bounded SECONDS CMD... — runs CMD under timeout(1) (which puts it in a process group
# of its own) and passes INT/TERM/HUP on to it, so an interrupted test also stops the build
# or install instead of leaving it running. Only for use inside a ( subshell ): it sets traps.
_vm_run_bounded() {
    local limit=$1
    shift
    timeout -k 30 "$limit" "$@" &
    _VM_BOUNDED_PID=$!
    trap '_vm_stop_bounded; exit 143' INT TERM HUP
    wait "$_VM_BOUNDED_PID"
}
_vm_stop_bounded() {   # TERM to timeout (it forwards it), up to 60 s, then KILL its group
    kill -TERM "$_VM_BOUNDED_PID" 2>/dev/null || return 0
    for _ in $(seq 1 60); do
        kill -0 "$_VM_BOUNDED_PID" 2>/dev/null || return 0
        sleep 1
    done
    _vm_err "process group $_VM_BOUNDED_PID did not stop within 60 s of SIGTERM; killing it"
    kill -KILL -- "-$_VM_BOUNDED_PID" 2>/dev/null || true
}
_vm_since() { awk -v a="$1" -v b="$(_vm_now)" 'BEGIN { printf "%.1f\n", b - a }'; }

# ---------------------------------------------------------------------------------------
# Test key
# vm_key — prints the path of the harness's private key (created on first use).
vm_key() {
    local key="$OFFROOT_VM_CACHE/id_ed25519"
    mkdir -p "$OFFROOT_VM_CACHE" || { _vm_err "cannot create cache dir $OFFROOT_VM_CACHE (set OFFROOT_VM_CACHE)"; return 1; }
    if [ ! -s "$key" ] || [ ! -s "$key.pub" ]; then
        _vm_need ssh-keygen flock || return 1
        (
            flock -w 60 9 || { _vm_err "timed out waiting for $OFFROOT_VM_CACHE/.key.lock"; exit 1; }
            if [ ! -s "$key" ] || [ ! -s "$key.pub" ]; then
                rm -f "$key.tmp" "$key.tmp.pub"
                ssh-keygen -q -t ed25519 -N '' -C offroot-vm-test -f "$key.tmp" >/dev/null \
                    || { _vm_err "ssh-keygen failed for $key"; exit 1; }
                mv -f "$key.tmp.pub" "$key.pub" && mv -f "$key.tmp" "$key" \
                    || { _vm_err "cannot move the new key into $OFFROOT_VM_CACHE"; exit 1; }
            fi
        ) 9> "$OFFROOT_VM_CACHE/.key.lock" || return 1
    fi
    printf '%s\n' "$key"
}

# ---------------------------------------------------------------------------------------
# Base images
# _vm_cached_build WHAT IMG TAG CMD... — builds IMG with CMD (given IMG as its last argument)
# unless it exists: locked per TAG ($dir/.lock-TAG), bounded by OFFROOT_VM_BUILD_TIMEOUT,
# build time in IMG.buildtime; stale .build-TAG-* dirs of builds that died are removed
# first, older images TAG-*.<IMG's extension> (other keys) after.
_vm_cached_build() {
    local what=$1 img=$2 tag=$3 dir
    shift 3
    dir=$(dirname "$img")
    [ -s "$img" ] && return 0
    _vm_need flock timeout || return 1
    (
        flock -w "$OFFROOT_VM_BUILD_TIMEOUT" 9 \
            || { _vm_err "timed out waiting for another build of $what ($dir/.lock-$tag)"; exit 1; }
        [ -s "$img" ] && exit 0
        # leftovers of builds of this TAG that died with the machine
        for old in "$dir/.build-$tag-"*; do
            [ -e "$old" ] && { _vm_safe_rm "$old" || exit 1; }
        done
        _vm_log "building $what -> $img"
        t0=$(_vm_now)
        _vm_run_bounded "$OFFROOT_VM_BUILD_TIMEOUT" "$@" "$img" \
            || { _vm_err "building the $what failed (or exceeded OFFROOT_VM_BUILD_TIMEOUT=${OFFROOT_VM_BUILD_TIMEOUT}s); see the messages above"; exit 1; }
        s=$(_vm_since "$t0")
        echo "$s" > "$img.buildtime"
        _vm_log "built $what in ${s}s"
        for old in "$dir/$tag-"*."${img##*.}"; do
            [ "$old" = "$img" ] || rm -f "$old" "$old".*
        done
    ) 9> "$dir/.lock-$tag"
}

# vm_base_image SUITE INIT — prints the path of a cached raw ext4 guest image, building it
# (mmdebstrap, ~1-3 min) when the key (suite, init, package list, build-image.sh, test key)
# has no image yet.
vm_base_image() {
    local suite=${1:-} init=${2:-} builder="$_VM_LIB_DIR/build-image.sh" key pkgs hash dir img
    [ $# -eq 2 ] || { _vm_err "usage: vm_base_image SUITE INIT (SUITE: bookworm|trixie|testing, INIT: systemd|sysvinit)"; return 1; }
    [ -x "$builder" ] || { _vm_err "$builder missing or not executable"; return 1; }
    pkgs=$("$builder" --packages "$suite" "$init") || return 1
    key=$(vm_key) || return 1
    hash=$( { printf 'suite=%s\ninit=%s\n' "$suite" "$init"; printf '%s\n' "$pkgs";
              cat "$builder" "$key.pub"; printf 'size=%s\nmirror=%s\n' "${OFFROOT_VM_IMAGE_SIZE:-2G}" \
              "${OFFROOT_VM_MIRROR:-$(debian_mirror)}"; } | sha256sum | cut -c1-16) \
        || { _vm_err "cannot compute the image cache key"; return 1; }
    dir="$OFFROOT_VM_CACHE/images"
    img="$dir/$suite-$init-$hash.ext4"
    mkdir -p "$dir" || { _vm_err "cannot create $dir (set OFFROOT_VM_CACHE to a writable dir)"; return 1; }
    if [ ! -s "$img" ]; then
        _vm_need mmdebstrap mkfs.ext4 || return 1
        _vm_cached_build "base image $suite/$init" "$img" "$suite-$init" \
            "$builder" --build "$suite" "$init" "$key.pub" || return 1
    fi
    printf '%s\n' "$img"
}

# vm_layout_image SUITE INIT LAYOUT — prints the path of a cached guest disk laid out as the
# Debian installer does (LAYOUT: plain, lvm, xfs, btrfs, luks-lvm, mdraid; mdraid's second
# disk is IMAGE.second, see _vm_layout_more_disks), booted through SeaBIOS and its GRUB;
# builds it (build-layout.sh, a builder VM, ~3-5 min) when the key (suite, init, layout, its
# packages, build-layout.sh, layout-guest.sh, the base image, size, mirror) has no image.
vm_layout_image() {
    local suite=${1:-} init=${2:-} layout=${3:-} builder="$_VM_LIB_DIR/build-layout.sh" base pkgs hash dir img
    [ $# -eq 3 ] || { _vm_err "usage: vm_layout_image SUITE INIT LAYOUT (LAYOUT: plain|lvm|xfs|btrfs|luks-lvm|mdraid)"; return 1; }
    [ -x "$builder" ] || { _vm_err "$builder missing or not executable"; return 1; }
    pkgs=$("$builder" --packages "$suite" "$init" "$layout") || return 1
    base=$(vm_base_image "$suite" "$init") || return 1
    hash=$( { printf 'suite=%s\ninit=%s\nlayout=%s\nbase=%s\n' "$suite" "$init" "$layout" "$(basename "$base")";
              printf '%s\n' "$pkgs"; cat "$builder" "$_VM_LIB_DIR/layout-guest.sh";
              printf 'size=%s\nmirror=%s\n' "${OFFROOT_VM_LAYOUT_SIZE:-4G}" \
              "${OFFROOT_VM_MIRROR:-$(debian_mirror)}"; } | sha256sum | cut -c1-16) \
        || { _vm_err "cannot compute the layout image cache key"; return 1; }
    dir="$OFFROOT_VM_CACHE/images"
    img="$dir/$suite-$init-$layout-$hash.disk"
    if [ ! -s "$img" ]; then
        _vm_cached_build "$layout layout image $suite/$init" "$img" "$suite-$init-$layout" \
            "$builder" --build "$suite" "$init" "$layout" || return 1
    fi
    printf '%s\n' "$img"
}

# _vm_layout_more_disks IMAGE DIR — a layout of more than one disk (mdraid: the other half of
# the mirror, IMAGE.second, built with IMAGE and removed with it) gets its other disk as the
# work dir's first extra disk, so that every boot (vm_boot attaches extra-*.img in order)
# and vm_prepare's booted install see it as /dev/vdb. A layout of one disk gets nothing.
_vm_layout_more_disks() {
    local img=$1 dir=$2
    [ -e "$img.second" ] || return 0
    cp --sparse=always "$img.second" "$dir/extra-0.img" \
        || { _vm_err "cannot copy $img.second to $dir/extra-0.img (disk full?)"; return 1; }
}

# vm_dracut_image SUITE INIT [systemd-initrd] — prints the path of a cached guest image whose
# initramfs is dracut's (dracut-image.sh: the base image with dracut installed, initramfs-tools
# gone; systemd initrd on systemd guests, dracut's shell init on sysvinit ones, or with
# systemd-initrd a sysvinit guest's systemd initrd); builds it when the key (suite, init, the
# variant, the base image, dracut-image.sh, its packages, mirror) has none. Named *.raw, so
# that neither the base images' clean-up (*.ext4) nor the layouts' (*.disk) takes it.
vm_dracut_image() {
    local suite=${1:-} init=${2:-} initrd=${3:-} builder="$_VM_LIB_DIR/dracut-image.sh" base pkgs hash dir img tag mode=--build
    [ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$initrd" = systemd-initrd ]; } \
        || { _vm_err "usage: vm_dracut_image SUITE INIT [systemd-initrd]"; return 1; }
    [ -x "$builder" ] || { _vm_err "$builder missing or not executable"; return 1; }
    pkgs=$("$builder" --packages "$suite" "$init") || return 1
    base=$(vm_base_image "$suite" "$init") || return 1
    hash=$( { printf 'suite=%s\ninit=%s\ngenerator=dracut\ninitrd=%s\nbase=%s\n' "$suite" "$init" "$initrd" "$(basename "$base")";
              printf '%s\n' "$pkgs"; cat "$builder";
              printf 'mirror=%s\n' "${OFFROOT_VM_MIRROR:-$(debian_mirror)}"; } | sha256sum | cut -c1-16) \
        || { _vm_err "cannot compute the dracut image cache key"; return 1; }
    tag="$suite-$init-dracut${initrd:+-$initrd}"
    [ -n "$initrd" ] && mode=--build-systemd-initrd
    dir="$OFFROOT_VM_CACHE/images"
    img="$dir/$tag-$hash.raw"
    if [ ! -s "$img" ]; then
        _vm_cached_build "dracut image $suite/$init${initrd:+ ($initrd)}" "$img" "$tag" \
            "$builder" "$mode" "$suite" "$init" || return 1
    fi
    printf '%s\n' "$img"
}

# vm_generator_image SUITE INIT GENERATOR — the guest image of SUITE/INIT whose initramfs
# GENERATOR builds: initramfs-tools (vm_base_image, the default of every test), dracut
# (vm_dracut_image) or dracut-systemd-initrd (a sysvinit guest with dracut's systemd initrd,
# booted with init=/sbin/init: vm_generator_cmdline).
vm_generator_image() {
    case "${3:-initramfs-tools}" in
    initramfs-tools) vm_base_image "$1" "$2" ;;
    dracut) vm_dracut_image "$1" "$2" ;;
    dracut-systemd-initrd) vm_dracut_image "$1" "$2" systemd-initrd ;;
    *) _vm_err "unknown generator '${3:-}' (use initramfs-tools, dracut or dracut-systemd-initrd)"; return 1 ;;
    esac
}

# vm_generator_cmdline GENERATOR — what a guest of GENERATOR adds to the kernel command line:
# init=/sbin/init for dracut-systemd-initrd, whose systemd initrd would otherwise start the
# guest's systemd binary instead of its sysvinit (systemd's switch-root prefers itself).
vm_generator_cmdline() {
    case "${1:-initramfs-tools}" in
    dracut-systemd-initrd) echo "init=/sbin/init" ;;
    *) echo "" ;;
    esac
}

# vm_initramfs_rebuild GENERATOR — the command that rebuilds the guest's initramfs after a
# change of /etc/offroot, as an admin runs it (in the chroot of vm_image_run or in the guest).
vm_initramfs_rebuild() {
    case "${1:-initramfs-tools}" in
    initramfs-tools) echo "update-initramfs -u" ;;
    dracut|dracut-systemd-initrd) echo "dracut -f --regenerate-all" ;;
    *) _vm_err "unknown generator '${1:-}' (use initramfs-tools, dracut or dracut-systemd-initrd)"; return 1 ;;
    esac
}

# ---------------------------------------------------------------------------------------
# Per-test copies

# _vm_in_image IMG DIR CALLBACK ARGS... — loop-mounts IMG, binds /dev /dev/pts, mounts
# /proc /sys, blocks service starts (policy-rc.d), puts the host's resolv.conf in place (for
# apt), runs CALLBACK MOUNTPOINT ARGS..., and always undoes all of it (also on INT/TERM).
# Status: the callback's.
_vm_in_image() {
    local img=$1 dir=$2 cb=$3
    shift 3
    _vm_need mount umount chroot timeout || return 1
    (
        mnt=$(mktemp -d "$dir/mnt.XXXXXX") || { _vm_err "mktemp in $dir failed"; exit 1; }
        mounted=""
        cleanup() {
            local m
            [ -e "$mnt/usr/sbin/policy-rc.d.offroot-vm" ] && rm -f "$mnt/usr/sbin/policy-rc.d" "$mnt/usr/sbin/policy-rc.d.offroot-vm"
            if [ -e "$dir/resolv.conf.guest" ] || [ -L "$dir/resolv.conf.guest" ]; then
                rm -f "$mnt/etc/resolv.conf"; mv -f "$dir/resolv.conf.guest" "$mnt/etc/resolv.conf"
            fi
            [ -n "$mounted" ] && rm -rf --one-file-system "$mnt/tmp/offroot-vm-in"
            for m in $mounted; do    # most recent first
                umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null \
                    || echo "vm: ERROR: cannot unmount $m; unmount it by hand" >&2
            done
            rmdir "$mnt" 2>/dev/null || true
        }
        trap cleanup EXIT
        trap 'exit 130' INT TERM HUP
        if [ -e "$img.parts" ]; then
            # a layout image: its filesystems (partitions, linear LVs) by their byte ranges
            while read -r mp off size fstype opts; do
                if [ "$opts" = - ]; then opts=""; else opts=",$opts"; fi
                mount -t "$fstype" -o "loop,offset=$off,sizelimit=$size$opts" "$img" "$mnt$mp" \
                    || { _vm_err "cannot loop-mount $mp of $img ($fstype at byte $off, $size bytes; $img.parts) on $mnt$mp"; exit 1; }
                mounted="$mnt${mp%/} $mounted"
            done < "$img.parts"
        else
            mount -o loop "$img" "$mnt" || { _vm_err "cannot loop-mount $img on $mnt (loop devices available? modprobe loop)"; exit 1; }
            mounted="$mnt"
        fi
        mount --bind /dev "$mnt/dev" || { _vm_err "bind /dev into $mnt failed"; exit 1; }
        mounted="$mnt/dev $mounted"
        mount --bind /dev/pts "$mnt/dev/pts" || { _vm_err "bind /dev/pts into $mnt failed"; exit 1; }
        mounted="$mnt/dev/pts $mounted"
        mount -t proc proc "$mnt/proc" || { _vm_err "mount proc on $mnt/proc failed"; exit 1; }
        mounted="$mnt/proc $mounted"
        mount -t sysfs sysfs "$mnt/sys" || { _vm_err "mount sysfs on $mnt/sys failed"; exit 1; }
        mounted="$mnt/sys $mounted"
        # no service may start inside the chroot
        if [ ! -e "$mnt/usr/sbin/policy-rc.d" ]; then
            printf '#!/bin/sh\nexit 101\n' > "$mnt/usr/sbin/policy-rc.d" && chmod 755 "$mnt/usr/sbin/policy-rc.d" \
                && touch "$mnt/usr/sbin/policy-rc.d.offroot-vm"
        fi
        # the host's resolver, for apt; the guest's file is put back afterwards
        if [ -e "$mnt/etc/resolv.conf" ] || [ -L "$mnt/etc/resolv.conf" ]; then
            mv -f "$mnt/etc/resolv.conf" "$dir/resolv.conf.guest" || exit 1
        fi
        cp -L /etc/resolv.conf "$mnt/etc/resolv.conf" 2>/dev/null || true
        mkdir -p "$mnt/tmp/offroot-vm-in" || exit 1
        "$cb" "$mnt" "$@"
    )
}

# Callback: installs .deb files (dpkg -i, then apt-get -f install from the mirror if
# dependencies are missing); log in DIR/install.log.
_vm_cb_install_debs() {
    local mnt=$1 dir=$2 img=$3 d list="" pkg
    shift 3
    for d in "$@"; do
        cp -f "$d" "$mnt/tmp/offroot-vm-in/" || { _vm_err "cannot copy $d into the image"; return 1; }
        list="$list /tmp/offroot-vm-in/$(basename "$d")"
    done
    _vm_log "installing into $img:$list"
    # shellcheck disable=SC2086
    if ! _vm_run_bounded "$OFFROOT_VM_INSTALL_TIMEOUT" chroot "$mnt" env DEBIAN_FRONTEND=noninteractive \
            LC_ALL=C.UTF-8 dpkg -i $list > "$dir/install.log" 2>&1; then
        _vm_log "dpkg -i left dependencies open; resolving them with apt-get from the mirror"
        _vm_run_bounded "$OFFROOT_VM_INSTALL_TIMEOUT" chroot "$mnt" env DEBIAN_FRONTEND=noninteractive \
            LC_ALL=C.UTF-8 sh -c 'apt-get update -q && apt-get install -f -y -q --no-install-recommends' \
            >> "$dir/install.log" 2>&1 \
            || { tail -n 30 "$dir/install.log" >&2; _vm_err "installing$list into the image failed (full log: $dir/install.log)"; return 1; }
    fi
    for d in "$@"; do
        pkg=$(dpkg-deb -f "$d" Package 2>/dev/null) || continue
        chroot "$mnt" dpkg-query -W -f '${Status}\n' "$pkg" 2>/dev/null | grep -q ' installed$' \
            || { tail -n 30 "$dir/install.log" >&2; _vm_err "package $pkg ($d) is not installed in the image after dpkg/apt (log: $dir/install.log)"; return 1; }
    done
}

# Callback: copies FILEs to /tmp/<basename> in the image, runs SCRIPT with /bin/sh in the
# chroot (stdout/stderr go to the caller), removes the files again.
_vm_cb_run() {
    local mnt=$1 script=$2 f rc=0 copied=()
    shift 2
    for f in "$@"; do
        cp -f "$f" "$mnt/tmp/" || { _vm_err "cannot copy $f into the image's /tmp"; return 1; }
        copied+=("$mnt/tmp/$(basename "$f")")
    done
    _vm_run_bounded "$OFFROOT_VM_INSTALL_TIMEOUT" chroot "$mnt" env DEBIAN_FRONTEND=noninteractive \
        LC_ALL=C.UTF-8 /bin/sh -c "$script" < /dev/null || rc=$?
    [ "${#copied[@]}" -eq 0 ] || rm -f "${copied[@]}"
    [ "$rc" -ne 124 ] || _vm_err "vm_image_run: the script ran over OFFROOT_VM_INSTALL_TIMEOUT=${OFFROOT_VM_INSTALL_TIMEOUT}s"
    return "$rc"
}

# Copies the newest /boot/vmlinuz-* and its initrd.img-* out of an image (no mount needed).
_vm_extract_boot() {
    local img=$1 dir=$2 ver
    _vm_need debugfs || return 1
    ver=$(debugfs -R 'ls -p /boot' "$img" 2>/dev/null | awk -F/ '$6 ~ /^vmlinuz-/ { sub(/^vmlinuz-/, "", $6); print $6 }' | sort -V | tail -n 1)
    [ -n "$ver" ] || { _vm_err "no /boot/vmlinuz-* in $img"; return 1; }
    rm -f "$dir/vmlinuz" "$dir/initrd.img"
    debugfs -R "dump /boot/vmlinuz-$ver $dir/vmlinuz" "$img" >/dev/null 2>&1
    debugfs -R "dump /boot/initrd.img-$ver $dir/initrd.img" "$img" >/dev/null 2>&1
    [ -s "$dir/vmlinuz" ] || { _vm_err "could not copy /boot/vmlinuz-$ver out of $img"; return 1; }
    [ -s "$dir/initrd.img" ] || { _vm_err "could not copy /boot/initrd.img-$ver out of $img (was the initramfs built?)"; return 1; }
    echo "$ver" > "$dir/kernel-version"
}

# vm_prepare NAME BASEIMAGE [DEB...] — fresh work dir for NAME with a sparse copy of
# BASEIMAGE as disk.img, the given .deb files installed into it, and the guest's kernel and
# initramfs copied out for direct kernel boot. Removes any previous work dir of NAME.
# A layout image (vm_layout_image, *.disk) boots from its disk instead: its filesystems are
# loop-mounted at /, /boot, /var by the byte ranges of BASEIMAGE.parts for the install, and
# nothing is copied out (GRUB loads the guest's /boot/initrd.img-* at the next boot).
vm_prepare() {
    local name=${1:-} base=${2:-} dir d
    [ $# -ge 2 ] || { _vm_err "usage: vm_prepare NAME BASEIMAGE [DEB...]"; return 1; }
    _vm_check_name "$name" || return 1
    shift 2
    [ -s "$base" ] || { _vm_err "base image '$base' not found (get one with vm_base_image SUITE INIT)"; return 1; }
    for d in "$@"; do
        [ -f "$d" ] || { _vm_err "package file '$d' not found"; return 1; }
    done
    dir=$(_vm_dir "$name")
    case "$dir" in *,*) _vm_err "work dir '$dir' contains a comma (QEMU cannot take it): change OFFROOT_VM_WORK"; return 1 ;; esac
    if vm_is_running "$name"; then
        _vm_err "VM $name is running; vm_kill $name (or vm_poweroff) before vm_prepare"; return 1
    fi
    _vm_safe_rm "$dir" || return 1
    mkdir -p "$dir" || { _vm_err "cannot create $dir (set OFFROOT_VM_WORK)"; return 1; }
    cp --sparse=always "$base" "$dir/disk.img.tmp" && mv -f "$dir/disk.img.tmp" "$dir/disk.img" \
        || { _vm_err "copying $base to $dir/disk.img failed (disk full?)"; return 1; }
    printf '%s\n' "$base" > "$dir/base-image"
    if _vm_is_layout_image "$base"; then
        # boots through the firmware and GRUB. Its filesystems are loop-mounted by their
        # byte ranges (BASE.parts) to install packages; without that list, it is booted.
        : > "$dir/boot-from-disk"
        _vm_layout_more_disks "$base" "$dir" || return 1
        if [ -e "$base.parts" ]; then
            cp -f "$base.parts" "$dir/disk.img.parts" || return 1
        elif [ $# -gt 0 ]; then
            _vm_booted_install "$name" "$@" || return 1
            set --
        fi
    fi
    if [ $# -gt 0 ]; then
        local abs=() f
        for f in "$@"; do abs+=("$(readlink -f "$f")"); done
        _vm_in_image "$dir/disk.img" "$dir" _vm_cb_install_debs "$dir" "$dir/disk.img" "${abs[@]}" || return 1
    fi
    if [ -e "$dir/boot-from-disk" ]; then
        _vm_log "prepared $name in $dir (boots from its disk through GRUB)"
        return 0
    fi
    _vm_extract_boot "$dir/disk.img" "$dir" || return 1
    _vm_log "prepared $name in $dir (kernel $(cat "$dir/kernel-version"))"
}

# vm_image_run NAME SCRIPT [FILE...] — runs SCRIPT (/bin/sh -c) as root chrooted into NAME's
# disk while the VM is stopped (same mounts and guards as the package install; the host's
# resolver for apt), with each FILE copied to /tmp/<basename> first; then copies the
# kernel and initramfs out again (so an `update-initramfs -u` takes effect at the next
# vm_boot). Output goes to the caller; status is the script's.
vm_image_run() {
    local name=${1:-} script=${2:-} dir f rc=0
    [ $# -ge 2 ] || { _vm_err "usage: vm_image_run NAME SCRIPT [FILE...]"; return 1; }
    _vm_check_name "$name" || return 1
    shift 2
    dir=$(_vm_dir "$name")
    [ -f "$dir/disk.img" ] || { _vm_err "VM $name not prepared (vm_prepare first)"; return 1; }
    if vm_is_running "$name"; then _vm_err "VM $name is running: vm_poweroff it before vm_image_run"; return 1; fi
    for f in "$@"; do
        [ -f "$f" ] || { _vm_err "vm_image_run: file '$f' not found"; return 1; }
    done
    if [ -e "$dir/boot-from-disk" ] && [ ! -e "$dir/disk.img.parts" ]; then
        _vm_booted_run "$name" "$script" "$@"
        return
    fi
    _vm_in_image "$dir/disk.img" "$dir" _vm_cb_run "$script" "$@" || rc=$?
    [ -e "$dir/boot-from-disk" ] || _vm_extract_boot "$dir/disk.img" "$dir" || return 1
    return "$rc"
}

# Layout images (vm_layout_image) are whole partitioned disks, named *.disk; bare ext4
# images (vm_base_image) *.ext4.
_vm_is_layout_image() { case "$1" in *.disk) return 0 ;; esac; return 1; }

# _vm_booted_run NAME SCRIPT [FILE...] — vm_image_run for a VM that boots from its disk: the
# host cannot open its partitions/LVs (this kind of host may lack device-mapper), so the guest
# itself is booted (through GRUB, with OFFROOT_VM_RESTRICT=off so that apt reaches the
# mirror), the FILEs are copied to /tmp, SCRIPT runs as root by /bin/sh over ssh (output to
# the caller), the files are removed and the guest powered off. Status: SCRIPT's.
_vm_booted_run() {
    local name=$1 script=$2 rc=0 f rm_list=""
    shift 2
    OFFROOT_VM_RESTRICT=off vm_boot "$name" || return 1
    vm_wait_ssh "$name" 22 "${OFFROOT_VM_BOOT_TIMEOUT:-300}" || { vm_kill "$name"; return 1; }
    for f in "$@"; do
        vm_scp_to "$name" 22 "$f" "/tmp/$(basename "$f")" || { vm_kill "$name"; return 1; }
        rm_list="$rm_list $(_vm_shquote "/tmp/$(basename "$f")")"
    done
    OFFROOT_VM_SSH_TIMEOUT=$OFFROOT_VM_INSTALL_TIMEOUT vm_ssh "$name" 22 \
        "DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 /bin/sh -c $(_vm_shquote "$script")" < /dev/null || rc=$?
    [ "$rc" -ne 124 ] || _vm_err "vm_image_run: the script ran over OFFROOT_VM_INSTALL_TIMEOUT=${OFFROOT_VM_INSTALL_TIMEOUT}s"
    [ -z "$rm_list" ] || vm_ssh "$name" 22 "rm -f$rm_list" < /dev/null || true
    vm_poweroff "$name" 22 || return 1
    return "$rc"
}

# _vm_booted_install NAME DEB... — vm_prepare's install for a VM that boots from its disk:
# dpkg -i in the booted guest, apt-get -f install from the mirror if dependencies are
# missing, every package checked installed. Log: install.log.
_vm_booted_install() {
    local name=$1 dir d list="" pkgs="" script
    shift
    dir=$(_vm_dir "$name")
    for d in "$@"; do
        list="$list /tmp/$(basename "$d")"
        pkgs="$pkgs $(dpkg-deb -f "$d" Package)" || { _vm_err "$d is not a .deb"; return 1; }
    done
    _vm_log "installing into $name (booted from its disk):$list"
    script="dpkg -i$list || { echo 'dpkg -i left dependencies open; apt-get -f install from the mirror'; apt-get update -q && apt-get install -f -y -q --no-install-recommends; }
        for p in$pkgs; do dpkg-query -W -f '\${Status}\n' \"\$p\" | grep -q ' installed\$' || { echo \"package \$p is not installed\"; exit 1; }; done"
    _vm_booted_run "$name" "$script" "$@" > "$dir/install.log" 2>&1 \
        || { tail -n 30 "$dir/install.log" >&2; _vm_err "installing$list into $name failed (full log: $dir/install.log)"; return 1; }
}

# vm_add_disk NAME SIZE [SOURCE] — adds an empty sparse disk (vdb, vdc, ... in order) for the
# next boot; with SOURCE, a sparse copy of that file instead (SIZE is then ignored).
vm_add_disk() {
    local name=${1:-} size=${2:-} src=${3:-} dir n
    [ $# -eq 2 ] || [ $# -eq 3 ] || { _vm_err "usage: vm_add_disk NAME SIZE [SOURCE] (e.g. 4G)"; return 1; }
    _vm_check_name "$name" || return 1
    dir=$(_vm_dir "$name")
    [ -f "$dir/disk.img" ] || { _vm_err "VM $name not prepared (vm_prepare first)"; return 1; }
    n=$(find "$dir" -maxdepth 1 -name 'extra-*.img' | wc -l)
    if [ -n "$src" ]; then
        cp --sparse=always "$src" "$dir/extra-$n.img" || { _vm_err "cannot copy $src to $dir/extra-$n.img (disk full?)"; return 1; }
    else
        truncate -s "$size" "$dir/extra-$n.img" || { _vm_err "cannot create $dir/extra-$n.img of size $size"; return 1; }
    fi
    printf '%s\n' "$dir/extra-$n.img"
}

# ---------------------------------------------------------------------------------------
# Running

_vm_pid() {   # prints the qemu pid of NAME if that qemu is alive
    local dir pid
    dir=$(_vm_dir "$1")
    [ -s "$dir/qemu.pid" ] || return 1
    pid=$(cat "$dir/qemu.pid" 2>/dev/null) || return 1
    case "$pid" in ""|*[!0-9]*) return 1 ;; esac
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$(_vm_drive_arg "$dir")" || return 1
    printf '%s\n' "$pid"
}

# vm_is_running NAME — status 0 if NAME's qemu is alive
vm_is_running() { _vm_check_name "${1:-}" || return 1; _vm_pid "$1" >/dev/null; }

# vm_other_qemus NAME — how many qemu-system processes run besides NAME's
# own (a process that exits as it is read is not counted): other guests on
# the host's cores inflate NAME's timings. NAME's qemus are known by its
# disk, as _vm_pid knows them, so that one still exiting from a reboot is
# not taken for another guest.
vm_other_qemus() {
    local own p c n=0
    _vm_check_name "${1:-}" || return 1
    own=$(_vm_drive_arg "$(_vm_dir "$1")")
    for p in $(pgrep qemu-system 2>/dev/null); do
        c=$(tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null) || continue
        [ -n "$c" ] || continue
        grep -qxF -- "$own" <<< "$c" || n=$((n + 1))
    done
    printf '%s\n' "$n"
}

_vm_port_in_use() { ss -Htln 2>/dev/null | awk '{print $4}' | grep -q ":$1\$"; }
_vm_free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        _vm_port_in_use "$p" || { echo "$p"; return 0; }
    done
    _vm_err "no free TCP port found on 127.0.0.1"; return 1
}

_vm_guest_port() {
    case "${1:-}" in
    22|ssh) echo 22 ;;
    1022|emergency|offroot) echo 1022 ;;
    *) _vm_err "unknown port name '${1:-}' (use 22/ssh or 1022/emergency)"; return 1 ;;
    esac
}

# vm_port NAME PORTNAME — the host port on 127.0.0.1 forwarded to guest port 22 or 1022
vm_port() {
    local name=${1:-} gp dir p
    _vm_check_name "$name" || return 1
    gp=$(_vm_guest_port "${2:-}") || return 1
    dir=$(_vm_dir "$name")
    p=$(sed -n "s/^$gp=//p" "$dir/ports" 2>/dev/null)
    [ -n "$p" ] || { _vm_err "VM $name has no forwarded port for $gp (not booted with vm_boot?)"; return 1; }
    echo "$p"
}

# vm_boot NAME [KERNEL_ARG...] — starts NAME's qemu in the background (TCG, virtio disk and
# net, user networking with 127.0.0.1 forwards to guest 22 and 1022, serial to serial.log).
# A VM prepared from a layout image boots from its disk (SeaBIOS, then the guest's GRUB):
# no -kernel/-initrd/-append, and no KERNEL_ARG.
vm_boot() {
    local name=${1:-} dir cmdline p22 p1022 try pid extra=() f slot=6 netopts bootargs bootdev
    [ $# -ge 1 ] || { _vm_err "usage: vm_boot NAME [KERNEL_ARG...]"; return 1; }
    _vm_check_name "$name" || return 1
    shift
    _vm_need "$OFFROOT_VM_QEMU" ss setsid || return 1
    dir=$(_vm_dir "$name")
    if [ -e "$dir/boot-from-disk" ]; then
        # SeaBIOS boots the disk's MBR; GRUB reads the kernel command line from grub.cfg.
        [ $# -eq 0 ] || { _vm_err "vm_boot $name: this VM boots through GRUB; kernel arguments ($*) go in the guest's /etc/default/grub (vm_image_run ... update-grub)"; return 1; }
        cmdline="(from the guest's grub.cfg)"
        bootargs=()
        bootdev=",bootindex=0"
    else
        for f in vmlinuz initrd.img; do
            [ -s "$dir/$f" ] || { _vm_err "$dir/$f missing: run vm_prepare $name BASEIMAGE first"; return 1; }
        done
        cmdline="$OFFROOT_VM_CMDLINE${*:+ $*}"
        bootargs=(-kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" -append "$cmdline")
        bootdev=""
    fi
    [ -s "$dir/disk.img" ] || { _vm_err "$dir/disk.img missing: run vm_prepare $name BASEIMAGE first"; return 1; }
    if vm_is_running "$name"; then _vm_err "VM $name is already running (pid $(_vm_pid "$name"))"; return 1; fi
    for f in "$dir"/extra-*.img; do
        [ -e "$f" ] || continue
        extra+=(-drive "file=$f,format=raw,if=none,id=extra$slot,cache=unsafe,discard=unmap"
                -device "virtio-blk-pci,drive=extra$slot,addr=$(printf '0x%x' "$slot")")
        slot=$((slot + 1))
    done
    [ -e "$dir/serial.log" ] && mv -f "$dir/serial.log" "$dir/serial.log.prev"
    rm -f "$dir/qemu.pid" "$dir/ports" "$dir/known_hosts"
    # For vm_wait_ssh's one retry of a kernel that died before userspace.
    if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi > "$dir/boot-args"
    [ -n "${_VM_REBOOTING:-}" ] || rm -f "$dir/kernel-died"
    for try in 1 2 3 4 5; do
        p22=$(_vm_free_port) && p1022=$(_vm_free_port) || return 1
        [ "$p22" != "$p1022" ] || continue
        netopts="user,id=net0,restrict=$OFFROOT_VM_RESTRICT,hostfwd=tcp:127.0.0.1:$p22-:22,hostfwd=tcp:127.0.0.1:$p1022-:1022"
        _vm_now > "$dir/started"
        printf '%s\n' "$cmdline" > "$dir/cmdline"
        if "$OFFROOT_VM_QEMU" -name "offroot-$name" -machine pc -accel "$OFFROOT_VM_ACCEL" \
            -cpu "$OFFROOT_VM_CPU" -smp "$OFFROOT_VM_SMP" -m "$OFFROOT_VM_MEM" \
            -nodefaults -no-user-config -display none -vga none -no-reboot \
            "${bootargs[@]}" \
            -drive "$(_vm_drive_arg "$dir")" \
            -device "virtio-blk-pci,drive=disk0,addr=0x4$bootdev" \
            -netdev "$netopts" -device virtio-net-pci,netdev=net0,addr=0x3 \
            -device virtio-rng-pci,addr=0x5 \
            "${extra[@]}" \
            -serial "file:$dir/serial.log" \
            -monitor "unix:$dir/monitor.sock,server=on,wait=off" \
            -pidfile "$dir/qemu.pid" -daemonize > "$dir/qemu.log" 2>&1 < /dev/null; then
            break
        fi
        if grep -q 'host forwarding' "$dir/qemu.log" && [ "$try" -lt 5 ]; then
            _vm_log "port $p22 or $p1022 was taken; retrying"; continue
        fi
        cat "$dir/qemu.log" >&2
        _vm_err "qemu failed to start VM $name (log above, also $dir/qemu.log)"; return 1
    done
    pid=$(_vm_pid "$name") || { cat "$dir/qemu.log" >&2; _vm_err "qemu for $name started but no live pid in $dir/qemu.pid"; return 1; }
    printf '22=%s\n1022=%s\n' "$p22" "$p1022" > "$dir/ports"
    case " $_VM_STARTED " in *" $name "*) ;; *) _VM_STARTED="$_VM_STARTED $name" ;; esac
    setsid -f "$_VM_LIB_DIR/watchdog.sh" "$$" "$pid" "$dir" "$OFFROOT_VM_MAX_LIFETIME" \
        < /dev/null > /dev/null 2>&1 || _vm_log "warning: could not start the watchdog for $name"
    _vm_log "booted $name: pid $pid, ssh 127.0.0.1:$p22 (guest 22), 127.0.0.1:$p1022 (guest 1022), serial $dir/serial.log"
}

# vm_elapsed NAME — seconds since NAME's qemu was started (one decimal)
vm_elapsed() {
    local dir
    _vm_check_name "${1:-}" || return 1
    dir=$(_vm_dir "$1")
    [ -s "$dir/started" ] || { _vm_err "VM $1 was never booted"; return 1; }
    _vm_since "$(cat "$dir/started")"
}

_vm_ssh_opts() {   # NAME HOSTPORT CONNECT_TIMEOUT
    local key dir
    key=$(vm_key) || return 1
    dir=$(_vm_dir "$1")
    printf '%s\n' -F /dev/null -i "$key" -p "$2" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o "UserKnownHostsFile=$dir/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR -o "ConnectTimeout=$3" \
        -o ServerAliveInterval=5 -o ServerAliveCountMax=6 -o User=root
}

# vm_ssh NAME PORTNAME CMD... — runs CMD as root in the guest (the words are joined by
# spaces and run by the guest's shell, like ssh does). Status: the command's, 255 if ssh
# failed, 124 if OFFROOT_VM_SSH_TIMEOUT ran out.
vm_ssh() {
    local name=${1:-} port opts
    [ $# -ge 3 ] || { _vm_err "usage: vm_ssh NAME PORTNAME CMD..."; return 1; }
    port=$(vm_port "$name" "$2") || return 1
    shift 2
    mapfile -t opts < <(_vm_ssh_opts "$name" "$port" 10)
    [ "${#opts[@]}" -gt 0 ] || return 1
    timeout --foreground -k 10 "$OFFROOT_VM_SSH_TIMEOUT" ssh "${opts[@]}" -- 127.0.0.1 "$@"
}

# The kernel panicked before it ran the initramfs' /init.
_vm_kernel_died_early() {
    grep -aq 'Kernel panic' "$1/serial.log" 2>/dev/null && ! grep -aq 'Run /init as init process' "$1/serial.log" 2>/dev/null
}

# vm_wait_ssh NAME PORTNAME TIMEOUT — waits until ssh on that port runs a command; prints
# nothing; records the seconds since qemu start in WORKDIR/ssh-ready-<port>.
vm_wait_ssh() {
    local name=${1:-} pn=${2:-} timeout=${3:-} port gp dir deadline opts err t
    [ $# -eq 3 ] || { _vm_err "usage: vm_wait_ssh NAME PORTNAME TIMEOUT_SECONDS"; return 1; }
    case "$timeout" in ""|*[!0-9]*) _vm_err "vm_wait_ssh: TIMEOUT must be whole seconds, got '$timeout'"; return 1 ;; esac
    gp=$(_vm_guest_port "$pn") || return 1
    port=$(vm_port "$name" "$pn") || return 1
    dir=$(_vm_dir "$name")
    mapfile -t opts < <(_vm_ssh_opts "$name" "$port" 5)
    deadline=$(( $(date +%s) + timeout ))
    while :; do
        if ! vm_is_running "$name" && _vm_kernel_died_early "$dir" && [ ! -e "$dir/kernel-died" ]; then
            # TCG, rarely, faults inside the kernel's own early boot (seen: an
            # int3 oops in sched_clock_cpu on 6.12, 2 s in, before /init).
            # Nothing of the guest's software has run: boot once more.
            cp -f "$dir/serial.log" "$dir/kernel-died"
            _vm_log "$name: the kernel died before starting /init (an emulation fault; serial log kept in $dir/kernel-died); booting again once"
            local args=()
            mapfile -t args < "$dir/boot-args"
            _VM_REBOOTING=1 vm_boot "$name" "${args[@]}" || return 1
            port=$(vm_port "$name" "$pn") || return 1
            mapfile -t opts < <(_vm_ssh_opts "$name" "$port" 5)
            deadline=$(( $(date +%s) + timeout ))
            continue
        fi
        if ! vm_is_running "$name"; then
            tail -n 30 "$dir/serial.log" >&2 2>/dev/null
            _vm_err "VM $name's qemu exited while waiting for ssh on guest port $gp (serial log: $dir/serial.log)"
            return 1
        fi
        if err=$(timeout -k 5 20 ssh "${opts[@]}" -- 127.0.0.1 true < /dev/null 2>&1); then
            t=$(vm_elapsed "$name")
            echo "$t" > "$dir/ssh-ready-$gp"
            _vm_log "$name: ssh on guest port $gp answered ${t}s after qemu start"
            return 0
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            tail -n 30 "$dir/serial.log" >&2 2>/dev/null
            _vm_err "$name: no ssh on guest port $gp (127.0.0.1:$port) within ${timeout}s; last ssh error: ${err:-none}; serial log: $dir/serial.log"
            return 1
        fi
        sleep 1
    done
}

# vm_wait_ssh_down NAME PORTNAME TIMEOUT — waits until ssh on that port no longer runs a
# command (sshd stopped, guest gone or qemu exited).
vm_wait_ssh_down() {
    local name=${1:-} pn=${2:-} timeout=${3:-} port gp deadline opts
    [ $# -eq 3 ] || { _vm_err "usage: vm_wait_ssh_down NAME PORTNAME TIMEOUT_SECONDS"; return 1; }
    case "$timeout" in ""|*[!0-9]*) _vm_err "vm_wait_ssh_down: TIMEOUT must be whole seconds, got '$timeout'"; return 1 ;; esac
    gp=$(_vm_guest_port "$pn") || return 1
    port=$(vm_port "$name" "$pn") || return 1
    mapfile -t opts < <(_vm_ssh_opts "$name" "$port" 5)
    deadline=$(( $(date +%s) + timeout ))
    while vm_is_running "$name" && timeout -k 5 20 ssh "${opts[@]}" -- 127.0.0.1 true < /dev/null > /dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            _vm_err "$name: ssh on guest port $gp still answers after ${timeout}s"
            return 1
        fi
        sleep 1
    done
    _vm_log "$name: ssh on guest port $gp is down $(vm_elapsed "$name")s after qemu start"
}

# vm_scp_to NAME PORTNAME SRC... DEST — copies local files into the guest through ssh and
# cat (works with any server that has a shell, also the emergency dropbear). With several
# SRC, or DEST ending in /, DEST is a directory. Modes are kept.
vm_scp_to() {
    local name=${1:-} pn=${2:-} dest src target mode n
    [ $# -ge 4 ] || { _vm_err "usage: vm_scp_to NAME PORTNAME SRC... DEST"; return 1; }
    shift 2
    dest=${!#}
    n=$(( $# - 1 ))
    for src in "${@:1:$n}"; do
        [ -f "$src" ] || { _vm_err "vm_scp_to: '$src' is not a regular file"; return 1; }
        if [ "$n" -gt 1 ] || [ "${dest%/}" != "$dest" ]; then
            target="${dest%/}/$(basename "$src")"
        else
            target=$dest
        fi
        mode=$(stat -c %a "$src") || return 1
        vm_ssh "$name" "$pn" "cat > $(_vm_shquote "$target.vmtmp") && chmod $mode $(_vm_shquote "$target.vmtmp") && mv -f $(_vm_shquote "$target.vmtmp") $(_vm_shquote "$target")" < "$src" \
            || { _vm_err "copying $src to $name:$target failed"; return 1; }
    done
}

# vm_scp_from NAME PORTNAME REMOTE LOCAL — copies one file out of the guest.
vm_scp_from() {
    local name=${1:-} pn=${2:-} remote=${3:-} local_=${4:-}
    [ $# -eq 4 ] || { _vm_err "usage: vm_scp_from NAME PORTNAME REMOTE LOCAL"; return 1; }
    vm_ssh "$name" "$pn" "cat $(_vm_shquote "$remote")" > "$local_.vmtmp" && mv -f "$local_.vmtmp" "$local_" \
        || { rm -f "$local_.vmtmp"; _vm_err "copying $name:$remote to $local_ failed"; return 1; }
}

_vm_wait_exit() {   # NAME SECONDS: 0 when qemu is gone in time
    local end=$(( $(date +%s) + $2 ))
    while vm_is_running "$1"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 1
    done
}

# vm_kill NAME — stops NAME's qemu at once (TERM, then KILL). Never fails if it is not running.
vm_kill() {
    local name=${1:-} pid
    _vm_check_name "$name" || return 1
    pid=$(_vm_pid "$name") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if ! _vm_wait_exit "$name" 10; then
        kill -KILL "$pid" 2>/dev/null || true
        _vm_wait_exit "$name" 10 || { _vm_err "qemu $pid of $name survives SIGKILL"; return 1; }
    fi
    _vm_log "killed $name (qemu pid $pid)"
}

# vm_poweroff NAME [PORTNAME [TIMEOUT]] — clean shutdown: `poweroff` through ssh (default
# port 22), then waits for qemu to exit (OFFROOT_VM_POWEROFF_TIMEOUT, 120 s). If it does not,
# kills it and returns 1. Prints the shutdown time.
vm_poweroff() {
    local name=${1:-} pn=${2:-22} limit=${3:-$OFFROOT_VM_POWEROFF_TIMEOUT} t0
    [ $# -ge 1 ] || { _vm_err "usage: vm_poweroff NAME [PORTNAME [TIMEOUT]]"; return 1; }
    _vm_check_name "$name" || return 1
    vm_is_running "$name" || { _vm_log "$name is not running"; return 0; }
    t0=$(_vm_now)
    OFFROOT_VM_SSH_TIMEOUT=30 vm_ssh "$name" "$pn" poweroff < /dev/null > /dev/null 2>&1 || true
    if _vm_wait_exit "$name" "$limit"; then
        _vm_log "$name powered off in $(_vm_since "$t0")s"
        return 0
    fi
    _vm_err "$name did not power off within ${limit}s; killing qemu (serial log: $(_vm_dir "$name")/serial.log)"
    vm_kill "$name" || true
    return 1
}

# A guest whose kernel panicked (panic=-1 and -no-reboot: qemu exits) leaves
# every later check with "Connection refused": say so once, with the panic
# from its serial log, so that the test's log shows the cause.
_vm_report_panic() {
    local dir
    dir=$(_vm_dir "$1")
    grep -aq 'Kernel panic' "$dir/serial.log" 2>/dev/null || return 0
    _vm_err "$1: the guest's kernel panicked; its serial log ($dir/serial.log) around the panic:"
    grep -a -B 40 -A 10 'Kernel panic' "$dir/serial.log" | tail -n 60 >&2
}

# vm_cleanup — kills every VM this shell booted. Trap-friendly: never fails.
vm_cleanup() {
    local n
    for n in $_VM_STARTED; do
        _vm_report_panic "$n" || true
        vm_kill "$n" 2>/dev/null || true
    done
    return 0
}

# vm_setup_traps — installs vm_cleanup on EXIT and turns INT/TERM/HUP into an exit.
vm_setup_traps() {
    trap 'vm_cleanup' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
}

# vm_destroy NAME — kills NAME and removes its work dir.
vm_destroy() {
    _vm_check_name "${1:-}" || return 1
    vm_kill "$1" || return 1
    _vm_safe_rm "$(_vm_dir "$1")"
}
