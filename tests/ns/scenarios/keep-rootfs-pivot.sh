# The pivot switch, on a namespace laid out like a 7.x kernel's (rootfs
# mounted on an empty filesystem): the initramfs' start-dropbear sees that
# rootfs has a parent mount, records "pivot" and starts its sshd (a
# stand-in) in a bind of rootfs; run-init keeps and prunes rootfs and
# pivot_roots into the real root, rootfs going to /run/offroot/rootfs.
# pivot-init.sh, the real init, checks the result. Runs as PID 1 of its
# namespace (run with NS_ROOTFS_ON_NULLFS=1).
. /tests/in-namespace.sh
set -u

# The emergency sshd's stand-in, started the way start-dropbear starts
# dropbear: it records its pid where dropbear does.
mkdir -p /usr/sbin /etc/offroot
cat > /usr/sbin/dropbear <<'SSHD'
#!/bin/sh
mkdir -p /run/offroot
sleep 100000 &
echo $! > /run/offroot/dropbear.pid
echo $! > /run/stand-in.pid
SSHD
chmod 755 /usr/sbin/dropbear
printf 'PORT=1022\nDROPBEAR_OPTIONS="-p 1022"\n' > /etc/offroot/armed
start_sshd() { sh /tests/start-dropbear > /tests/start-dropbear.log 2>&1; }

REAL_INIT=pivot-init.sh PREMOUNT=start_sshd build_boot_scene /bin /usr/lib/offroot /tests /etc/offroot
cat /tests/start-dropbear.log
check "start-dropbear chose the pivot switch" grep -q 'root switch: pivot' /tests/start-dropbear.log
check_eq "start-dropbear recorded it in rootfs" pivot "$(cat /etc/offroot/root-switch)"
check "the sessions' bind of rootfs is a mount" grep -q ' /usr/lib/offroot/emergency-root ' /root/proc/self/mountinfo
stand_in=$(cat /root/run/stand-in.pid)
check "the stand-in lives in the bind: another mount than ours" \
    test "$(awk '$5 == "/" { print $1 }' "/root/proc/$stand_in/mountinfo")" != "$(awk '$5 == "/" { print $1 }' /root/proc/self/mountinfo)"
echo 'root=/dev/vda ro quiet' > /root/run/cmdline

check "run-init -n accepts the scene" /usr/lib/offroot/run-init -n /root /sbin/init
exec env OFFROOT_CMDLINE=/run/cmdline /usr/lib/offroot/run-init /root /sbin/init phase1 2>/root/run/run-init.log
