# run-init keeps and prunes rootfs, gives it /dev /proc /sys /run, moves the
# real root onto "/" and execs its init; then the real root is moved aside
# through "/..", offroot-init becomes PID 1 from rootfs, and SIGUSR1 hands
# PID 1 back to the real init. Runs as PID 1 of its namespace.
. /tests/in-namespace.sh
set -u

# What start-dropbear does first in the initramfs: the sessions' /tmp and
# home on capped tmpfs mounts (small caps, quick to fill), the home with
# its keys, as the hook leaves it.
session_space() {
    mkdir -p /var/lib/offroot/.ssh
    echo 'ssh-ed25519 AAAA test' > /var/lib/offroot/.ssh/authorized_keys
    . /usr/lib/offroot/offroot-functions
    SESSION_TMP_SIZE=4m SESSION_HOME_SIZE=1m offroot_mount_session_space ""
}

PREMOUNT=session_space build_boot_scene /bin /usr/lib/offroot /tests /var/lib/offroot
# What runs in rootfs while the stub is PID 1 (real-init.sh starts it).
echo "${STUB_DRIVER:-stub-driver.sh}" > /root/run/stub-driver

# The emergency sshd stand-in: started in the initramfs, it keeps rootfs as
# its root for its whole life.
sleep 100000 &
echo $! > /root/run/stand-in.pid
echo 'root=/dev/vda ro quiet splash.mode=x phase2 -- after-dashes' > /root/run/cmdline

check "run-init -n accepts the scene" /usr/lib/offroot/run-init -n /root /sbin/init
check "run-init -n refuses a missing init" sh -c '! /usr/lib/offroot/run-init -n /root /sbin/nothing 2>/dev/null'
check "run-init -n refuses a new root that is not a mount point" \
    sh -c '! /usr/lib/offroot/run-init -n /tests /sbin/init 2>/dev/null'

# Its messages go to a file the real init can read back.
exec env OFFROOT_CMDLINE=/run/cmdline /usr/lib/offroot/run-init -d cap_sys_module /root /sbin/init \
    phase1 'arg with space' 2>/root/run/run-init.log
