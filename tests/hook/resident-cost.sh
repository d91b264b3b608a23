#!/bin/sh
# What the emergency environment costs in RAM after boot, part by part:
# builds a real initramfs with offroot's hook, unpacks it, lets the image's
# own run-init prune it to its manifest in fresh namespaces (a tmpfs
# playing rootfs, as the hook test's real-image scenario does), asks the
# image's offroot status for its figure, and prints what each part of the
# pruned tree costs.
#
# usage: resident-cost.sh [--root DIR] [--programs "LIST"] [SOURCE_DIR BUILD_RUNTIME_DIR]
#   SOURCE_DIR BUILD_RUNTIME_DIR  the hook, boot scripts and binaries of a
#                 source and build tree (the binaries stripped, as dh_strip
#                 ships them); without them, the offroot package installed
#                 on the system measured
#   --root DIR    the system to measure: a chroot of another suite (the
#                 package installed in it, or a source tree given); the
#                 image is built there, pruned here. Default: this machine.
#   --programs    PROGRAMS of the configuration (default: offroot.conf's)
#
# Columns: "status" counts as offroot status does (rootfs.cpp
# tree_usage_bytes on ramfs, which keeps no block counts: the whole pages
# of each regular file, hard links once); "ramfs" adds what ramfs holds
# and status does not see: a page for each symlink. Each entry also costs
# its inode and dentry (~0.8 KiB of slab, not paged), counted on the last
# line. "without PROGRAMS" takes their programs and libraries off (their
# symlinks stay in the ramfs column); --programs "" builds that image for
# real. Needs root (namespaces, chroot).
set -eu

me=resident-cost
die() { echo "$me: $*" >&2; exit 1; }

root=/
programs_set=no
programs=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --root) root=${2:?--root needs a directory}; shift 2 ;;
        --programs) programs=${2?--programs needs a list}; programs_set=yes; shift 2 ;;
        --) shift; break ;;
        -*) die "unknown option $1 (usage: resident-cost.sh [--root DIR] [--programs LIST] [SOURCE_DIR BUILD_RUNTIME_DIR])" ;;
        *) break ;;
    esac
done
src=${1:-}
bin=${2:-}
[ -z "$src" ] || [ -n "$bin" ] || die "SOURCE_DIR given without BUILD_RUNTIME_DIR"
root=$(cd "$root" && pwd)

[ "$(id -u)" = 0 ] || die "needs root (namespaces, chroot)"
for tool in unshare pivot_root tar find; do
    command -v "$tool" >/dev/null || die "$tool not found (util-linux, tar, findutils)"
done

# Commands run on the measured system: chrooted there, with its own /proc.
on_system() {
    if [ "$root" = / ]; then
        "$@"
    else
        unshare --mount -- chroot "$root" /bin/sh -c 'mount -t proc proc /proc && exec "$@"' sh "$@"
    fi
}
for tool in mkinitramfs unmkinitramfs dropbearkey busybox; do
    on_system sh -c "command -v $tool" >/dev/null || die "$tool not found in $root: apt-get install initramfs-tools dropbear-bin busybox"
done
kernel=$(ls "$root/lib/modules" 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] && [ -f "$root/boot/config-$kernel" ] || die "no kernel installed in $root: apt-get install linux-image-cloud-amd64"
suite=$(. "$root/etc/os-release" && echo "${PRETTY_NAME:-unknown}")

# The work directory is inside the measured system, so that its tools see it.
mkdir -p "$root/tmp"
work=$(mktemp -d "$root/tmp/offroot-resident.XXXXXX")
trap '[ -n "${OFFROOT_KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
w=${work#"${root%/}"}

# A configuration of our own (the stock initramfs.conf, no modules: quick),
# and keys of our own: the image must be armed, whatever the system's
# /etc/offroot holds.
conf=$work/conf
mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts/init-premount" "$conf/scripts/init-bottom" "$work/etc"
cp "$root/etc/initramfs-tools/initramfs.conf" "$conf/"
: > "$conf/modules"
echo MODULES=list > "$conf/conf.d/00-test-modules"
if [ -n "$src" ]; then
    # From the trees; mkinitramfs reads conf-hooks.d from /usr/share only.
    cp "$src/initramfs-tools/conf-hooks.d/offroot" "$conf/conf.d/offroot"
    cp "$src/initramfs-tools/hooks/zz-offroot" "$conf/hooks/"
    cp "$src/initramfs-tools/scripts/init-premount/offroot" "$conf/scripts/init-premount/"
    cp "$src/initramfs-tools/scripts/init-bottom/offroot" "$conf/scripts/init-bottom/"
    mkdir -p "$work/share" "$work/bin"
    cp "$src/hooks/"* "$work/share/"
    cp "$src/etc/offroot.conf" "$work/etc/"
    for b in offroot run-init; do
        strip -o "$work/bin/$b" "$bin/$b"
    done
    share=$w/share sbin=$w/bin lib=$w/bin
else
    # The installed package: its hook and scripts run from /usr/share.
    [ -f "$root/usr/share/initramfs-tools/hooks/zz-offroot" ] || die "offroot is not installed in $root (or give SOURCE_DIR BUILD_RUNTIME_DIR)"
    cp "$root/etc/offroot/offroot.conf" "$work/etc/"
    share=/usr/share/offroot sbin=/usr/sbin lib=/usr/lib/offroot
fi
if [ "$programs_set" = yes ]; then
    printf 'PROGRAMS="%s"\n' "$programs" >> "$work/etc/offroot.conf"
fi
programs=$(. "$work/etc/offroot.conf" && echo "${PROGRAMS:-}")
# The installed package's host keys (the postinst makes three), else one.
if [ -z "$src" ] && ls "$root"/etc/offroot/dropbear_*_host_key >/dev/null 2>&1; then
    cp "$root"/etc/offroot/dropbear_*_host_key "$work/etc/"
else
    on_system dropbearkey -t ed25519 -f "$w/etc/dropbear_ed25519_host_key" >/dev/null 2>&1
fi
on_system dropbearkey -t ed25519 -f "$w/client_key" >/dev/null 2>&1
on_system dropbearkey -y -f "$w/client_key" | grep '^ssh-' > "$work/etc/authorized_keys"
chmod 0600 "$work/etc/authorized_keys" "$work"/etc/dropbear_*_host_key

echo "# $me: building the image on $suite (kernel $kernel), PROGRAMS=\"$programs\""
on_system env OFFROOT_ETC="$w/etc" OFFROOT_SHARE="$share" OFFROOT_SOURCE_SBIN="$sbin" OFFROOT_SOURCE_LIB="$lib" \
    sh -c 'umask 0022 && mkinitramfs -d "$1/conf" -o "$1/image" "$2"' sh "$w" "$kernel" > "$work/mkinitramfs.log" 2>&1 ||
    { cat "$work/mkinitramfs.log" >&2; die "mkinitramfs failed"; }
grep -q 'offroot: not armed' "$work/mkinitramfs.log" && { cat "$work/mkinitramfs.log" >&2; die "the image is not armed"; }
on_system unmkinitramfs "$w/image" "$w/unpacked" || die "unmkinitramfs failed"
image=$work/unpacked
[ -d "$image/main" ] && image=$image/main
[ -x "$image/usr/sbin/run-init" ] || die "no run-init in the image"

# Paths and libraries as a tree (the image, the pruned rootfs) sees them:
# its own busybox resolves, its own loader lists what a program loads.
resolve() {   # TREE PATH
    chroot "$1" /bin/busybox readlink -f "$2" 2>/dev/null || true
}
libs_of() {   # TREE PROGRAM; nothing for a static one
    for loader in "$1"/lib64/ld-linux-*.so.* "$1"/lib/ld-linux*.so.*; do
        [ -e "$loader" ] || continue
        loader=/${loader#"$1"/}
        chroot "$1" "$loader" --verify "$2" >/dev/null 2>&1 || return 0
        chroot "$1" "$loader" --list "$2" 2>/dev/null |
            sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'
        return 0
    done
}

# The image as rootfs in fresh namespaces. Stage 1 (this machine's sh, as
# PID 1): rootfs a tmpfs holding the image; the real root a tmpfs holding
# the image's busybox (to run the real init) and a door to $out. Nothing
# more of the image: offroot status would take it for the emergency root.
out=$work/out
mkdir -p "$out" "$work/ns"
{ echo /bin/busybox; libs_of "$image" /bin/busybox; } > "$work/ns/real-root-files"
cat > "$work/ns/stage1" <<'EOF'
set -eu
image=$1 work=$2 out=$3
r=$work/ns/rootfs
mkdir -p "$r"
mount -t tmpfs -o mode=0755 rootfs "$r"
cp -a "$image/." "$r/"
mkdir -p "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/root" "$r/oldroot"
mount -t tmpfs -o mode=0755 realroot "$r/root"
while read -r f; do
    mkdir -p "$r/root${f%/*}"
    cp -L "$image$f" "$r/root$f"
done < "$work/ns/real-root-files"
mkdir -p "$r/root/proc" "$r/root/sys" "$r/root/dev" "$r/root/run" "$r/root/out" "$r/root/sbin"
ln -s busybox "$r/root/bin/sh"
mount --bind "$out" "$r/root/out"
cp "$work/ns/stage2" "$r/stage2"
cp "$work/ns/real-init" "$r/root/sbin/init"
chmod 0755 "$r/root/sbin/init"
cd "$r"
pivot_root . oldroot
exec /bin/busybox sh -c 'umount -l /oldroot && rmdir /oldroot && cd / && exec /bin/busybox sh /stage2'
EOF
# Stage 2, in rootfs with the image's own busybox: what initramfs-tools'
# init has done by the time it calls run-init, then run-init itself.
cat > "$work/ns/stage2" <<'EOF'
set -eu
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 udev /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
: > /dev/console
mkdir -p /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
# A process whose root is rootfs, as the emergency dropbear's is: offroot
# status finds rootfs through it.
sleep 100000 &
mkdir -p /run/offroot
echo $! > /run/offroot/dropbear.pid
echo $! > /run/stand-in.pid
echo 'root=/dev/vda ro quiet' > /run/cmdline
for m in run sys proc dev; do mount -o move "/$m" "/root/$m"; done
rm /stage2
exec env OFFROOT_CMDLINE=/run/cmdline /usr/sbin/run-init /root /sbin/init 2>/root/out/run-init.log
EOF
# The real init: offroot's own figure, and the pruned rootfs itself.
cat > "$work/ns/real-init" <<'EOF'
#!/bin/busybox sh
export PATH=/bin
door=/proc/$(busybox cat /run/stand-in.pid)/root
"$door/usr/sbin/offroot" status --json > /out/status.json 2>&1 || true
# Not into /proc, /sys, /dev, /run: run-init has mounted them into rootfs.
cd "$door" && busybox tar -cf /out/rootfs.tar --no-recursion $(busybox find . -xdev)
echo done > /out/done
EOF
timeout --kill-after=5 120 unshare --mount --pid --fork --kill-child --propagation private -- \
    /bin/sh "$work/ns/stage1" "$image" "$work" "$out" > "$work/ns/log" 2>&1 || true
[ -f "$out/done" ] || { cat "$work/ns/log" "$out/run-init.log" >&2 2>/dev/null || true; die "pruning in namespaces failed"; }
grep -q 'kept .* entries of the initramfs' "$out/run-init.log" || { cat "$out/run-init.log" >&2; die "run-init did not keep rootfs"; }
status_bytes=$(sed -n 's/.*"rootfs_bytes":\([0-9]*\).*/\1/p' "$out/status.json")

t=$work/pruned
mkdir -p "$t"
tar -C "$t" -xf "$out/rootfs.tar"

# Which part each kept file belongs to: programs by name, libraries by
# what loads them (the image's own loader lists them), first come first
# served; libc and the loader are everyone's.
parts=$work/parts
: > "$parts"
assign() {   # PART PATH: PATH (resolved in the pruned tree) belongs to PART
    p=$(resolve "$t" "$2")
    # By inode: busybox's applets are hard links to it, any may come first.
    [ -n "$p" ] && [ -f "$t$p" ] && printf '%s\t%s\n' "$(stat -c %i "$t$p")" "$1" >> "$parts"
    return 0
}
for lib in $(libs_of "$t" /bin/busybox); do
    case "${lib##*/}" in
        libc.so.*|ld-linux*) assign "libc and ld.so" "$lib" ;;
    esac
done
assign "busybox" /bin/busybox
for lib in $(libs_of "$t" /bin/busybox); do assign "busybox: ${lib##*/}" "$lib"; done
assign "dropbear" /usr/sbin/dropbear
for lib in $(libs_of "$t" /usr/sbin/dropbear); do assign "dropbear: ${lib##*/}" "$lib"; done
assign "offroot (also offroot-init)" /usr/sbin/offroot
for lib in $(libs_of "$t" /usr/sbin/offroot); do assign "offroot: ${lib##*/}" "$lib"; done
for name in $programs; do
    path=$(grep -m 1 -E "(^|/)$name\$" "$t/etc/offroot/manifest" || true)
    [ -n "$path" ] || continue
    assign "PROGRAMS: $name" "$path"
done
for name in $programs; do
    path=$(grep -m 1 -E "(^|/)$name\$" "$t/etc/offroot/manifest" || true)
    [ -n "$path" ] || continue
    for lib in $(libs_of "$t" "$path"); do assign "PROGRAMS lib: ${lib##*/}" "$lib"; done
done

# Every entry of the pruned tree: inode, links, size, type, path.
(cd "$t" && find . -printf '%i %n %s %y %p\n') > "$work/entries"
echo "# $me: $suite, kernel $kernel, PROGRAMS=\"$programs\""
awk -v parts="$parts" -v status="${status_bytes:-}" '
    function pages(n) { return int((n + 4095) / 4096) * 4096 }
    function mib(n) { return sprintf("%.2f", n / 1048576) }
    BEGIN {
        while ((getline line < parts) > 0) {
            split(line, f, "\t")
            if (!(f[1] in part)) { part[f[1]] = f[2]; order[++nparts_seen] = f[2] }
        }
    }
    {
        ino = $1; size = $3; type = $4; path = substr($5, 2)
        if (path == "") path = "/"
        entries++
        if (type == "d") { dirs++; next }
        if (type == "l") { symlinks++; next }
        if (type != "f") next
        if (ino in seen_ino) { hardlinks++; next }
        seen_ino[ino] = 1
        p = ino in part ? part[ino] : ""
        if (p == "") {
            if (path ~ /^\/(etc|var\/lib\/offroot)\//) p = "config, keys, passwd, manifest"
            else p = "other: " path
        }
        if (!(p in cost)) { names[++n] = p; files[p] = 0 }
        cost[p] += pages(size); files[p]++
        total += pages(size)
        if (p ~ /^PROGRAMS/) programs_cost += pages(size)
    }
    END {
        fmt = "%-40s %6s %10s %10s\n"
        printf fmt, "part", "files", "status", "ramfs"
        # The parts in the order they were named, then the rest.
        m = 0
        for (i = 1; i <= nparts_seen; i++) if (order[i] in cost && !(order[i] in done)) { list[++m] = order[i]; done[order[i]] = 1 }
        for (i = 1; i <= n; i++) if (!(names[i] in done)) { list[++m] = names[i]; done[names[i]] = 1 }
        for (i = 1; i <= m; i++) printf fmt, list[i], files[list[i]], cost[list[i]], cost[list[i]]
        printf fmt, "directories (no pages on ramfs)", dirs + 0, 0, 0
        printf fmt, "symlinks (a page each on ramfs)", symlinks + 0, 0, symlinks * 4096
        printf fmt, "hard links (free)", hardlinks + 0, 0, 0
        printf fmt, "TOTAL", "", total, total + symlinks * 4096
        printf "%-40s %6s %10s %10s\n", "  in MiB", "", mib(total), mib(total + symlinks * 4096)
        printf "%-40s %6s %10s %10s\n", "TOTAL without PROGRAMS", "", total - programs_cost, total - programs_cost + symlinks * 4096
        printf "%-40s %6s %10s %10s\n", "  in MiB", "", mib(total - programs_cost), mib(total - programs_cost + symlinks * 4096)
        printf "offroot status --json rootfs_bytes: %s (tmpfs as rootfs)\n", status == "" ? "none" : status " (" mib(status) " MiB)"
        printf "kernel objects: %d entries, ~%d KiB of inodes and dentries (not paged, not counted above)\n", entries, entries * 0.8
    }' "$work/entries"
