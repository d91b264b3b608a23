#!/bin/bash
# A DHCP lease shorter than the time spent DETACHED, outlived. In the guest,
# a dnsmasq in a network namespace of its own serves 2-minute leases (its
# minimum) behind a veth pair; the guest's own network daemon takes one on
# its side (lan0): systemd-networkd with its defaults (SendRelease=yes,
# KeepConfiguration=no) on systemd guests, dhclient (bookworm) or dhcpcd
# (trixie) through ifupdown on sysvinit guests. Then:
#  - offroot enter: the lease's address and the provider's (ens3) are still
#    there, with infinite lifetimes; the default route too;
#  - 150 s DETACHED (the lease has run out by then, and dnsmasq, a process
#    of the disk, was stopped with everything else): the address is there
#    and the 1022 session answers;
#  - offroot return: NORMAL; with dnsmasq started again, the init's client
#    renews: lan0's address has a finite lifetime again within 90 s, and
#    dnsmasq's log shows no DHCPRELEASE from enter.
#
#   tests/vm/network-lease.sh DEB [SUITE [INIT]]   (default bookworm systemd)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"
. "$here/checks.sh"

deb=${1:?usage: network-lease.sh DEB [SUITE [INIT]]}
suite=${2:-bookworm}
init=${3:-systemd}
name="network-lease-$suite-$init"
detached_seconds=${OFFROOT_VM_DETACHED_SECONDS:-150}
summary() { checks_summary "network-lease $suite/$init"; }
vm_setup_traps
trap 'vm_cleanup; summary' EXIT
[ "$(id -u)" = 0 ] || { fail "must run as root"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb"; exit 1; }

img=$(vm_base_image "$suite" "$init") || { fail "image $suite/$init"; exit 1; }
offroot_guest "$name" "$suite" "$init" "$deb" "$img" || { fail "an armed $suite/$init guest"; exit 1; }
dir=$(vm_dir "$name")
# dnsmasq for the guest's LAN, from the mirror (vm_image_run resolves).
vm_image_run "$name" "apt-get update && apt-get -y install dnsmasq-base && command -v dnsmasq" >"$dir/dnsmasq-install.log" 2>&1 \
    || { tail -20 "$dir/dnsmasq-install.log"; fail "installing dnsmasq in the guest"; exit 1; }
pass "dnsmasq installed in the guest"

# The LAN: set up at every boot by a script (on the disk: it runs in NORMAL
# only), the client configured as the init's network configuration does.
lan_script='#!/bin/sh
# offroot test: a DHCP server in a network namespace behind lan0.
ip netns add offroot-lan 2>/dev/null || true
ip link show lan0 >/dev/null 2>&1 || ip link add lan0 type veth peer name lan1 netns offroot-lan
ip netns exec offroot-lan ip link set lo up
ip netns exec offroot-lan ip link set lan1 up
ip netns exec offroot-lan ip addr replace 10.78.0.1/24 dev lan1
ip link set lan0 up
ip netns exec offroot-lan dnsmasq --conf-file=/dev/null --port=0 --interface=lan1 --bind-interfaces \
    --dhcp-range=10.78.0.50,10.78.0.60,255.255.255.0,2m --dhcp-authoritative --dhcp-option=3 \
    --dhcp-leasefile=/var/lib/offroot-test-lan.leases --pid-file=/run/offroot-test-dnsmasq.pid \
    --log-dhcp --log-facility=/var/log/offroot-test-dnsmasq.log'
if [ "$init" = systemd ]; then
    setup="set -e
        printf '%s\n' '$lan_script' > /usr/local/sbin/offroot-test-lan; chmod 755 /usr/local/sbin/offroot-test-lan
        printf '[Match]\nName=lan0\n[Network]\nDHCP=ipv4\n' > /etc/systemd/network/60-offroot-test-lan.network"
    # networkd takes lan0 as it appears (the .network matches it); after
    # return, the daemon the init started renews once dnsmasq is back.
    start_lan="/usr/local/sbin/offroot-test-lan"
else
    setup="set -e
        printf '%s\n' '$lan_script' > /usr/local/sbin/offroot-test-lan; chmod 755 /usr/local/sbin/offroot-test-lan
        printf 'iface lan0 inet dhcp\n' > /etc/network/interfaces.d/offroot-test-lan"
    start_lan="/usr/local/sbin/offroot-test-lan && { ifquery --state lan0 >/dev/null || ifup lan0; }"
fi
vm_image_run "$name" "$setup" >"$dir/lan-setup.log" 2>&1 || { cat "$dir/lan-setup.log"; fail "configuring the LAN"; exit 1; }

vm_boot "$name" || { fail "vm_boot"; exit 1; }
vm_wait_ssh "$name" 22 300 || { fail "sshd on 22"; exit 1; }
vm_wait_ssh "$name" 1022 60 || { fail "ssh on 1022"; exit 1; }
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
vm_ssh "$name" 22 "$start_lan" >"$dir/lan-start.log" 2>&1 || { cat "$dir/lan-start.log"; fail "starting the LAN"; exit 1; }
lan_address() { vm_ssh "$name" "$1" "ip -4 -o addr show dev lan0" | awk '/inet 10\.78\./ {print $4; exit}'; }
for _ in $(seq 1 60); do [ -n "$(lan_address 22)" ] && break; sleep 1; done
lease=$(lan_address 22)
check "lan0 has a lease from dnsmasq ($lease)" test -n "$lease" || exit 1
vm_ssh "$name" 22 "ip addr show dev lan0; ip addr show dev ens3 2>/dev/null || ip addr show dev eth0" | sed 's/^/    /'
check "the lease's address has a finite lifetime before enter" vm_ssh "$name" 22 "ip -4 addr show dev lan0 | grep -A1 'inet 10\.78\.' | grep -q 'valid_lft [0-9]*sec'"

vm_ssh "$name" 22 "ip route show table all | grep -v ^local" | sed 's/^/    /'
defaults_before=$(vm_ssh "$name" 22 "ip route show default; ip -6 route show default" | awk '$1 == "default" {print $3}' | sort | xargs)

# The LAN's namespace lives as long as something holds it: its bind in
# /run/netns goes with the disk's /run, dnsmasq with the services. A sleep
# of the 1022 session (spared by enter, as the sessions are) keeps an fd on
# it, so that lan0 outlives enter the way a provider's NIC does.
dnsmasq_pid=$(vm_ssh "$name" 22 cat /run/offroot-test-dnsmasq.pid)
holder=$(vm_ssh "$name" 1022 "setsid sleep 100000 3</proc/$dnsmasq_pid/ns/net >/dev/null 2>&1 </dev/null & echo \$!")
check "a 1022 process holds the LAN's namespace (pid $holder)" test -n "$holder"

out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "offroot enter" test "$rc" = 0 || exit 1
check "enter checked the route to the admin's address" grep -q "route to the admin's" <<< "$out"
check "enter sent networkd/dhclient/dhcpcd SIGKILL, not SIGTERM" grep -qE 'SIGKILL(ed)? (systemd-networkd|dhclient|dhcpcd)' <<< "$out"
check "DETACHED: the lease's address is still on lan0" test "$(lan_address 1022)" = "$lease"
vm_ssh "$name" 1022 "ip addr show" | sed 's/^/    /'
check "DETACHED: its lifetime is infinite" vm_ssh "$name" 1022 "ip -4 addr show dev lan0 | grep -A1 'inet 10\.78\.' | grep -q 'valid_lft forever'"
vm_ssh "$name" 1022 "ip route; ip -6 route" | sed 's/^/    /'
defaults_detached=$(vm_ssh "$name" 1022 "ip route; ip -6 route" | awk '$1 == "default" {print $3}' | sort | xargs)
check "DETACHED: the default routes of NORMAL are there (${defaults_before:-none}), the RA-learned IPv6 one too" \
    test "$defaults_detached" = "$defaults_before"

echo "# $detached_seconds s DETACHED: longer than the 2-minute lease"
sleep "$detached_seconds"
check "after ${detached_seconds} s DETACHED the 1022 session answers" vm_ssh "$name" 1022 true
check "after ${detached_seconds} s DETACHED the lease's address is still there" test "$(lan_address 1022)" = "$lease"

out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check "offroot return" test "$rc" = 0 || exit 1
check "return gave the lifetimes back" grep -q 'return: address' <<< "$out"
check "sshd on 22 answers again" vm_wait_ssh "$name" 22 180 || exit 1
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
# The init's fresh /run has no name for the LAN's namespace: given back
# from the holder, then dnsmasq starts in it again.
vm_ssh "$name" 22 "mkdir -p /run/netns && touch /run/netns/offroot-lan && mount --bind /proc/$holder/fd/3 /run/netns/offroot-lan && $start_lan" >>"$dir/lan-start.log" 2>&1 || { cat "$dir/lan-start.log"; fail "restarting the LAN's dnsmasq"; }
renewed=
for _ in $(seq 1 90); do
    if vm_ssh "$name" 22 "ip -4 addr show dev lan0 | grep -A1 'inet 10\.78\.' | grep -q 'valid_lft [0-9]*sec'"; then renewed=1; break; fi
    sleep 1
done
vm_ssh "$name" 22 "ip addr show dev lan0; tail -n 15 /var/log/offroot-test-dnsmasq.log" | sed 's/^/    /'
if [ "$init" = systemd ]; then
    check "after return the init's client renewed: a finite lifetime again" test -n "$renewed"
else
    echo "# dhclient's interfaces keep the infinite lifetime (its script cannot renew an existing address)"
fi
check "no DHCPRELEASE reached dnsmasq" vm_ssh "$name" 22 "! grep -q DHCPRELEASE /var/log/offroot-test-dnsmasq.log"
check "offroot left no network record behind" vm_ssh "$name" 1022 "test ! -e /var/lib/offroot/network"
vm_poweroff "$name" 22 || true
