# Runs in rootfs while PID 1 is offroot-init (recover-handback.sh), as
# enter leaves it when killed after reexec-pid1 and before unbind-stub: the
# stub still bound over the init's binary (/root/sbin/init), the root aside
# at /root, a DHCP client killed by hold-dhcp-leases in its record. The
# real offroot recover must take the bind away before PID 1 goes back (the
# stub would exec itself as the real init: real-init.sh's phase2 never
# comes), then start the client again in the real root.
. /tests/in-namespace.sh
set -u

stub_is_pid1() { [ "$(dev_ino /proc/1/exe)" = "$(dev_ino /usr/lib/offroot/offroot-init)" ]; }
check "offroot-init became PID 1" wait_until 20 stub_is_pid1
check "the stub is bound over the root's /sbin/init" \
    sh -c "[ \"\$(stat -L -c %d:%i /root/sbin/init)\" = \"\$(stat -L -c %d:%i /usr/lib/offroot/offroot-init)\" ]"
mkdir -p /usr/sbin
ln -sf /usr/lib/offroot/offroot /usr/sbin/offroot
state=/var/lib/offroot

# The stand-in dhclient (a shell, not busybox) in the real root, and the
# record hold-dhcp-leases wrote before killing it.
cp /tests/fake-dhclient /root/sbin/dhclient
printf '%s\n' CLIENT=dhclient IFACE=lo ARG=/sbin/dhclient ARG=-c 'ARG=while :; do sleep 1; done' \
    ARG=fake-dhclient-handback ARG=-4 'ARG=with two  spaces' ARG=lo > "$state/dhcp-clients"
printf 'TRANSITION=enter\nPID=4301\nSTEP=unbind-stub\nSTARTED=0\n' > "$state/transition"

recovered=$(/usr/sbin/offroot recover 2>&1)
rc=$?
echo "$recovered"
check_eq "recover of the enter killed before unbind-stub: done" 0 "$rc"
check "recover removed the bind over init before the root went back" sh -c \
    "echo '$recovered' | grep -q 'recover: removed the bind of offroot-init over /root/sbin/init'"
pid1_not_stub() { ! stub_is_pid1; }
check "PID 1 is no longer the stub" pid1_not_stub
client() {
    for d in /proc/[0-9]*; do
        if tr '\0' '\n' < "$d/cmdline" 2>/dev/null | grep -qx fake-dhclient-handback; then echo "${d#/proc/}"; fi
    done
}
check "recover started the dhclient again" sh -c "echo '$recovered' | grep -q 'recover: started dhclient again: /sbin/dhclient'"
new=$(client)
check "it runs, with its argv" sh -c \
    "[ -n '$new' ] && tr '\\0' '\\n' < /proc/$new/cmdline | grep -qx 'with two  spaces'"
check "in the real root" sh -c "[ -n '$new' ] && [ \"\$(stat -L -c %d:%i /proc/$new/root)\" = \"\$(stat -L -c %d:%i /proc/1/root)\" ]"
check "the record is gone" test ! -e "$state/dhcp-clients"
[ -n "$new" ] && kill -KILL "$new"
: > /../run/driver-done
