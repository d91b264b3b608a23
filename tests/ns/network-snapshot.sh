#!/bin/sh
# enter's network steps on a real kernel, in a network namespace of its own:
# an IPv4 /24, a /32 with `default via GW onlink` (the hosting providers'
# set-up), IPv6 with finite lifetimes and an expiring default route (and
# systemd-networkd's RA default route through a nexthop object), a route
# in table 100 and policy rules for both families, the forwarding and
# accept_ra sysctls. Everything is taken away (addresses flushed, tables
# flushed, rules deleted, sysctls changed, the link down) and restore must
# bring back the same `ip` view; freeze makes every lifetime infinite, thaw
# gives them back; verify finds the default routes and the route to the
# admin's address, and fails without them; a tun interface is named as one
# that would vanish.
#
# With OFFROOT (the offroot binary), `offroot check` must refuse a session
# that arrives over the tun interface, and go ahead with --force-network.
#
# usage: network-snapshot.sh NS_NETWORK_TOOL [OFFROOT]
set -eu
tool=$1
offroot=${2:-}
[ "$(id -u)" = 0 ] || { echo "network-snapshot: needs root (network namespaces)"; exit 77; }
command -v ip >/dev/null || { echo "network-snapshot: iproute2's ip not found"; exit 77; }
if [ -z "${OFFROOT_NS_NETWORK_INSIDE:-}" ]; then
    exec env OFFROOT_NS_NETWORK_INSIDE=1 unshare --net --mount --propagation private -- /bin/sh "$0" "$@"
fi

work=$(mktemp -d /tmp/offroot-net.XXXXXX)
# The gateway's side of the veth lives in a namespace of its own: a
# gateway must not be a local address.
unshare --net sleep 600 &
peer=$!
monitor=
trap 'kill $peer $monitor 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP
sleep 0.2
in_peer() { nsenter -t "$peer" -n "$@"; }
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else not_ok "$desc"; fi; }

ip link set lo up
ip link add vc type veth peer name vs
ip link set vs netns "$peer"
in_peer ip link set vs up
ip link set vc up
ip addr add 10.77.0.2/24 dev vc
ip addr add 192.0.2.10/32 dev vc
ip route add default via 192.0.2.1 dev vc onlink
ip -6 addr add 2001:db8:77::2/64 dev vc valid_lft 600 preferred_lft 300 nodad
in_peer ip -6 addr add 2001:db8:77::1/64 dev vs nodad
in_peer ip addr add 10.77.0.1/24 dev vs
ip -6 route add default via 2001:db8:77::1 dev vc metric 512 expires 600
ip route add 198.51.100.0/24 via 10.77.0.1 dev vc table 100
ip -6 route add 2001:db8:99::/48 via 2001:db8:77::1 dev vc table 100
ip rule add from 10.77.0.2 table 100 priority 1000
ip -6 rule add from 2001:db8:77::2 table 100 priority 1001
echo 0 > /proc/sys/net/ipv6/conf/vc/accept_ra
echo 1 > /proc/sys/net/ipv4/conf/vc/forwarding

# What the admin would compare: addresses, every table's routes (the
# kernel's local and multicast ones aside), rules, sysctls; no lifetimes.
state() {
    ip -o addr show dev vc | awk '{print $3, $4}' | grep -v '^inet6 fe80' | sort
    ip route show table all | grep -v -E '^(local|broadcast|multicast|fe80|ff00)' | sed -E 's/ expires [0-9]+sec//; s/ linkdown//' | sort
    ip -6 route show table all | grep -v -E '^(local|broadcast|multicast|anycast|fe80|ff00)' | sed -E 's/ expires [0-9]+sec//; s/ linkdown//' | sort
    ip rule show; ip -6 rule show
    cat /proc/sys/net/ipv6/conf/vc/accept_ra /proc/sys/net/ipv4/conf/vc/forwarding
}
state >"$work/before"
"$tool" snapshot "$work/record"
check "the record names the onlink default route" grep -q 'default via 192.0.2.1 dev vc onlink' "$work/record"
check "the record names the IPv6 address with its lifetime" grep -q 'inet6 2001:db8:77::2/64 dev vc valid [0-9]*s' "$work/record"
check "the record names both rules" test "$(grep -c '^rule .*table 100' "$work/record")" = 2

# What a stopping network daemon, and worse, leaves.
ip addr flush dev vc
ip route flush table 100
ip -6 route flush table 100
ip rule del priority 1000
ip -6 rule del priority 1001
echo 1 > /proc/sys/net/ipv6/conf/vc/accept_ra
echo 0 > /proc/sys/net/ipv4/conf/vc/forwarding
ip link set vc down
state >"$work/broken"
check "the network really was taken away" sh -c '! cmp -s "$1/before" "$1/broken"' - "$work"

"$tool" restore "$work/record" >"$work/restored" || not_ok "restore exited non-zero"
sed 's/^/  restored: /' "$work/restored"
state >"$work/after"
if cmp -s "$work/before" "$work/after"; then ok "restore brought back the same addresses, routes, rules, sysctls"
else not_ok "restore differs:"; diff "$work/before" "$work/after" | sed 's/^/  /'; fi
check "nothing was refused" sh -c '! grep -q "NOT restored" "$1"' - "$work/restored"
check "restored addresses are forever" sh -c 'ip -6 addr show dev vc scope global | grep -A1 2001:db8:77::2 | grep -q "valid_lft forever"'

# Lifetimes: a lease-like address and an expiring route, frozen and thawed.
ip -6 addr del 2001:db8:77::2/64 dev vc
ip -6 addr add 2001:db8:77::2/64 dev vc valid_lft 600 preferred_lft 300 nodad
ip addr add 10.77.0.3/24 dev vc valid_lft 120 preferred_lft 120
ip -6 route replace default via 2001:db8:77::1 dev vc metric 512 expires 600
# systemd-networkd's RA default route (Debian 13: networkd takes the RAs,
# the kernel's accept_ra is 0 on vc): through a nexthop object of its own,
# to the router's link-local address, with the router lifetime as expiry.
echo 0 > /proc/sys/net/ipv6/conf/vc/accept_ra
ip nexthop add id 2740 via fe80::2 dev vc proto ra
ip -6 route add default nhid 2740 proto ra metric 1024 expires 1800 pref medium
# (`show ... metric 1024` selects by the metric and leaves it out.)
ra_route() { ip -6 route show default metric 1024; }
ra_route | sed 's/^/  RA route before freeze: /'
ip nexthop show | sort >"$work/nexthops-before"
"$tool" snapshot "$work/record2"
# Every change to the RA default route while freeze and thaw run: a
# "Deleted" line would be a moment without it.
ip -6 monitor route >"$work/monitor" 2>&1 &
monitor=$!
sleep 0.3
"$tool" freeze >"$work/frozen"
ra_route >"$work/ra-frozen"
sed 's/^/  frozen: /' "$work/frozen"
sed 's/^/  RA route after freeze: /' "$work/ra-frozen"
check "freeze: the RA default route was frozen, not refused" sh -c '! grep -q "NOT frozen" "$1" && grep -q "^route inet6 default nhid 2740 .*metric 1024 .* -> permanent" "$1"' - "$work/frozen"
check "freeze: the RA default route is there, through its nexthop, proto ra, without an expiry" sh -c 'test "$(grep -c . "$1")" = 1 && grep -q "^default nhid 2740 via fe80::2 dev vc proto ra pref medium" "$1" && ! grep -q expires "$1"' - "$work/ra-frozen"
check "freeze: the IPv6 address is forever" sh -c 'ip -6 addr show dev vc | grep -A1 "2001:db8:77::2/64" | grep -q "valid_lft forever preferred_lft forever"'
check "freeze: the IPv4 lease-like address is forever" sh -c 'ip -4 addr show dev vc | grep -A1 "10.77.0.3/24" | grep -q "valid_lft forever"'
check "freeze: the IPv6 default route no longer expires" sh -c '! ip -6 route show default | grep -q expires'
"$tool" thaw "$work/record2" 60 >"$work/thawed"
ra_route >"$work/ra-thawed"
sleep 0.3
kill "$monitor"; wait "$monitor" 2>/dev/null || true
monitor=  # gone: the EXIT trap (under set -e) must not fail on it
sed 's/^/  thawed: /' "$work/thawed"
sed 's/^/  RA route after thaw: /' "$work/ra-thawed"
grep 'metric 1024' "$work/monitor" | sed 's/^/  monitor: /'
check "the RA default route never went away while freeze and thaw ran (no Deleted)" sh -c 'grep -q "metric 1024" "$1" && ! grep "metric 1024" "$1" | grep -q "^Deleted"' - "$work/monitor"
check "thaw: the RA default route is as networkd made it, expiring again (at least the floor)" sh -c 'test "$(grep -c . "$1")" = 1 && grep -Eq "^default nhid 2740 via fe80::2 dev vc proto ra expires (1[0-9]{3}|[6-9][0-9])sec pref medium" "$1"' - "$work/ra-thawed"
check "thaw: nothing of freeze left: one IPv6 default route per metric, the nexthops as before" sh -c 'test "$(ip -6 route show default | grep -c .)" = 2 && ip nexthop show | sort | cmp -s - "$1"' - "$work/nexthops-before"
check "thaw: the IPv6 address has a finite lifetime again" sh -c 'ip -6 addr show dev vc | grep -A1 "2001:db8:77::2/64" | grep -q "valid_lft [0-9]*sec"'
check "thaw: the IPv4 address has a finite lifetime again" sh -c 'ip -4 addr show dev vc | grep -A1 "10.77.0.3/24" | grep -q "valid_lft [0-9]*sec"'
check "thaw: the IPv6 default route expires again" sh -c 'ip -6 route show default | grep -q expires'
check "thaw: the IPv6 subnet stays reachable (the kernel's prefix route gets the address's lifetime)" sh -c 'ip -6 route get 2001:db8:77::1 >/dev/null && ! ip -6 route show 2001:db8:77::/64 | grep -q "expires -"'
check "thaw: the permanent addresses stayed permanent" sh -c 'ip -4 addr show dev vc | grep -A1 "192.0.2.10/32" | grep -q "valid_lft forever"'

# verify: the default routes and the route to the admin.
check "verify passes with the routes there" "$tool" verify "$work/record" 203.0.113.9
ip route del default via 192.0.2.1 dev vc onlink
check "verify fails without the onlink default route" sh -c '! "$1" verify "$2" 203.0.113.9 2>"$3/verify.err"' - "$tool" "$work/record" "$work"
check "and says which route" grep -q 'default via 192.0.2.1' "$work/verify.err"
ip route add default via 192.0.2.1 dev vc onlink

# The session's interface.
check "a veth path is not one that vanishes" sh -c '"$1" path 203.0.113.9 | grep -q "^vc veth$"' - "$tool"
if ip tuntap add dev tun7 mode tun 2>/dev/null; then
    ip link set tun7 up
    ip addr add 10.99.0.1/24 dev tun7
    check "a session over tun is one that vanishes" sh -c '"$1" path 10.99.0.5 | grep -q "^tun7 tun VANISHES"' - "$tool"
    if [ -n "$offroot" ]; then
        SSH_CONNECTION="10.99.0.5 50000 10.99.0.1 22" "$offroot" check >"$work/check.out" 2>&1 || true
        check "offroot check refuses a session over tun7, naming it" grep -q "^BLOCKER: the admin's session (from 10.99.0.5) arrives over tun7" "$work/check.out"
        SSH_CONNECTION="10.99.0.5 50000 10.99.0.1 22" "$offroot" check --force-network >"$work/check-forced.out" 2>&1 || true
        check "offroot check --force-network makes it a note" sh -c 'grep -q "^note: the admin.s session .*tun7.*forced" "$1" && ! grep -q "^BLOCKER: the admin.s session" "$1"' - "$work/check-forced.out"
        SSH_CONNECTION="203.0.113.9 50000 192.0.2.10 22" "$offroot" check >"$work/check-veth.out" 2>&1 || true
        check "offroot check has nothing against a session over the veth" sh -c '! grep -q "admin.s session" "$1"' - "$work/check-veth.out"
    fi
else
    echo "ok - # SKIP no tun device here"
fi
if ip link add wg7 type wireguard 2>/dev/null; then
    ip link set wg7 up
    ip addr add 10.98.0.1/24 dev wg7
    check "a session over WireGuard is one that vanishes" sh -c '"$1" path 10.98.0.5 | grep -q "^wg7 wireguard VANISHES"' - "$tool"
else
    echo "ok - # SKIP no wireguard module here"
fi

[ "$failures" = 0 ] || { echo "network-snapshot: $failures failed"; exit 1; }
echo "network-snapshot: all passed"
