# The keep path fails half-way, after /dev was already bound into rootfs:
# run-init must undo what it did (unbind /dev, restore the /dev symlink),
# log why, and switch like the stock run-init; the system still boots into
# the real init with its arguments. Runs as PID 1 of its namespace;
# classic-init.sh, the real root's init, checks the result.
. /tests/in-namespace.sh
set -eu

# /proc is listed, so pruning keeps it ...
REAL_INIT=classic-init.sh build_boot_scene /bin /usr/lib/offroot /tests /proc
# ... as a regular file: /dev is bound first, then /proc cannot become the
# directory its bind needs.
rmdir /proc
echo 'not a directory' > /proc

mkdir /scratch
mount -t tmpfs -o mode=0755 scratch /scratch
echo 'on a mount in rootfs' > /scratch/inside

sleep 100000 &
echo $! > /root/run/stand-in.pid
echo 'root=/dev/vda ro quiet' > /root/run/cmdline

mkdir -p /root/tests
cp /tests/in-namespace.sh /root/tests/

check "the scene has rootfs /dev as udev's symlink" test -L /dev
check "run-init -n accepts the scene" /usr/lib/offroot/run-init -n /root /sbin/init

# Exactly as initramfs-tools calls it, output to the console.
exec env OFFROOT_CMDLINE=/run/cmdline /usr/lib/offroot/run-init /root /sbin/init fell-back 'arg with space' -x \
    </root/dev/console >>/root/dev/console 2>&1
