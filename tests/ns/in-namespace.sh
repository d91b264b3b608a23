# Sourced by the scenarios (busybox sh): TAP-like checks on stdout.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH

check() {
    description=$1
    shift
    if "$@"; then
        echo "ok - $description"
    else
        echo "not ok - $description"
    fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1: expected '$2', got '$3'"
    fi
}

# wait_until SECONDS COMMAND...: polls every 0.1 s.
wait_until() {
    limit=$(( $1 * 10 ))
    shift
    i=0
    while [ "$i" -lt "$limit" ]; do
        if "$@"; then return 0; fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

dev_ino() { stat -L -c '%d:%i' "$1"; }

# The initramfs at the moment initramfs-tools' init calls run-init: /proc,
# /sys, /run and /dev (with /dev/pts) moved into the real root at /root,
# /dev replaced by a symlink as udev's init-bottom leaves it.
# usage: build_boot_scene MANIFEST_LINES...
build_boot_scene() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t tmpfs -o mode=0755 udev /dev
    mknod -m 666 /dev/null c 1 3
    mknod -m 666 /dev/zero c 1 5
    : > /dev/console
    mount -o bind /console-capture /dev/console
    mkdir -p /dev/pts
    mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
    mount -t tmpfs -o mode=0755 tmpfs /run
    # What init-premount does in this initramfs (start the emergency sshd).
    if [ -n "${PREMOUNT:-}" ]; then $PREMOUNT; fi

    # What a stock initramfs also holds and rootfs must not keep.
    mkdir -p /lib/modules/6.1.0-test/kernel/fs /usr/lib/udev/rules.d /scripts/init-bottom
    head -c 65536 /dev/zero > /lib/modules/6.1.0-test/kernel/fs/big.ko
    echo 'rule' > /usr/lib/udev/rules.d/50-test.rules
    echo 'stock' > /scripts/init-bottom/udev

    # A real image brings its own manifest.
    if [ "$#" -gt 0 ]; then
        mkdir -p /etc/offroot
        : > /etc/offroot/manifest
        for line in "$@"; do echo "$line" >> /etc/offroot/manifest; done
        cat /tests/busybox.libs >> /etc/offroot/manifest
    fi

    mkdir /root
    mount -t tmpfs -o mode=0755 realroot /root
    mkdir -p /root/bin /root/sbin /root/dev /root/proc /root/sys /root/run /root/etc /root/tmp
    cp -a /tests/bb/. /root/
    for applet in $(/root/bin/busybox --list); do
        [ -e "/root/bin/$applet" ] || ln -s busybox "/root/bin/$applet"
    done
    echo real > /root/etc/marker
    # The real init's helpers: rootfs' /tests may be pruned away.
    cp /tests/in-namespace.sh /root/in-namespace.sh
    if [ -n "${FAKE_SYSVINIT:-}" ]; then
        # A PID 1 binary named "init", running the scenario's script.
        cp /tests/fake-init /root/sbin/init
        cp "/tests/$REAL_INIT" /root/sbin/init.sh
    else
        cp "/tests/${REAL_INIT:-real-init.sh}" /root/sbin/init
    fi
    chmod 755 /root/sbin/init

    mount -o move /run /root/run
    mount -o move /sys /root/sys
    mount -o move /proc /root/proc
    mount -o move /dev /root/dev
    rm -rf /dev
    ln -s /root/dev /dev
}
