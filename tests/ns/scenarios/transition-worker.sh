# enter and return run in a worker detached from the admin's session, one
# at a time, and leave a record status reads (transitions/transition_worker.hpp,
# system/transition_record.hpp): on a booted scene, with a transition that
# changes nothing (tests/ns/transition_driver.cpp) and the real offroot.
# Runs as PID 1 of its namespace; the checks are in transition-init.sh.
. /tests/in-namespace.sh
set -u

FAKE_SYSVINIT=1 REAL_INIT=transition-init.sh build_boot_scene /bin /usr/lib/offroot /tests /var/lib/offroot
# As the hook leaves it: the state directory holds the keys.
mkdir -p /var/lib/offroot

# The emergency dropbear stand-in, named by the pidfile as the real one is.
sleep 100000 &
echo $! > /root/run/stand-in.pid
mkdir -p /root/run/offroot
echo $! > /root/run/offroot/dropbear.pid

exec /usr/lib/offroot/run-init /root /sbin/init
