# offroot status and check on a booted scene: from the real root and from
# inside rootfs, with a process holding a deleted file and another holding
# a file open for writing on the real root.
. /tests/in-namespace.sh
set -u

FAKE_SYSVINIT=1 REAL_INIT=check-init.sh build_boot_scene /bin /usr/lib/offroot /tests /var/lib/offroot
mkdir -p /var/lib/offroot/.ssh
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheNamespaceTestOnly test' > /var/lib/offroot/.ssh/authorized_keys

# The emergency dropbear stand-in, named by the pidfile as the real one is.
sleep 100000 &
echo $! > /root/run/stand-in.pid
mkdir -p /root/run/offroot
echo $! > /root/run/offroot/dropbear.pid

exec /usr/lib/offroot/run-init /root /sbin/init
