# A real initramfs built by mkinitramfs with offroot's hook (unpacked by
# tests/hook/mkinitramfs-with-hook.sh) plays rootfs: its own run-init keeps
# what its own manifest lists, and offroot status reports the RAM kept.
. /tests/in-namespace.sh
set -u

REAL_INIT=real-image-init.sh build_boot_scene
sleep 100000 &
echo $! > /root/run/stand-in.pid
mkdir -p /root/run/offroot
echo $! > /root/run/offroot/dropbear.pid
echo 'root=/dev/vda ro quiet' > /root/run/cmdline

exec env OFFROOT_CMDLINE=/run/cmdline /usr/sbin/run-init /root /sbin/init 2>/root/run/run-init.log
