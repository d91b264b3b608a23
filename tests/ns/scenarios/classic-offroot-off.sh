# offroot=off on the kernel command line: run-init must do exactly what the
# stock run-init does: empty rootfs without crossing a mount point, move the
# real root onto "/", chroot, apply -c and -d and exec init with its
# arguments. Runs as PID 1 of its namespace; classic-init.sh, the real
# root's init, checks the result.
. /tests/in-namespace.sh
set -eu

REAL_INIT=classic-init.sh build_boot_scene /bin /usr/lib/offroot /tests

# A mount in rootfs besides the new root: emptying rootfs must leave it be.
mkdir /scratch
mount -t tmpfs -o mode=0755 scratch /scratch
echo 'on a mount in rootfs' > /scratch/inside

# Stands in for the emergency sshd: it keeps rootfs as its root.
sleep 100000 &
echo $! > /root/run/stand-in.pid

# OFFROOT_CMDLINE=/run/cmdline stands for /proc/cmdline, and like it is
# only found in the real root: initramfs-tools' init has moved /proc (and
# here /run) there before it calls run-init.
echo 'root=/dev/vda ro quiet offroot=off' > /root/run/cmdline
sed -n 's/^CapBnd:[[:space:]]*//p' /root/proc/self/status > /root/run/capbnd-before

# rootfs' helpers will be deleted with it: the real init brings its own.
mkdir -p /root/tests
cp /tests/in-namespace.sh /root/tests/

check "run-init -n accepts the scene" /usr/lib/offroot/run-init -n /root /sbin/init

# Like initramfs-tools: run-init's output goes to the console. stdin is
# /dev/null so that the real init can tell that -c reopened the console.
exec env OFFROOT_CMDLINE=/run/cmdline /usr/lib/offroot/run-init -d cap_sys_module -c /dev/console \
    /root /sbin/init offroot-off 'arg with space' -x </dev/null >>/root/dev/console 2>&1
