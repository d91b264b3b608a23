#!/bin/sh
# DHCP clients stopped enter's way keep their lease; stopped the usual way
# they give it up. A real dnsmasq serves DHCP (2-minute leases, its
# minimum) in one network namespace, behind a veth pair; a real dhclient
# (isc-dhcp-client) and a real dhcpcd run in the other, one after the other.
# For each client:
#  - SIGTERM (what a service stop or enter's old kill-leftovers sends): what
#    happens to the address and to the lease in dnsmasq's lease file is
#    printed; dhclient 4.4 leaves the address to run out, dhcpcd 9 removes it;
#  - the release of `ifdown` (dhclient -r, dhcpcd -k): a DHCPRELEASE in
#    dnsmasq's log and the lease gone from its file;
#  - enter's hold-dhcp-leases (ns-network-tool hold: SIGKILL): the address
#    stays, the lease stays in dnsmasq's file, no DHCPRELEASE; then freeze
#    makes the address's lifetime infinite and thaw gives it back (dhclient's
#    interface is recorded to stay infinite).
# A client that is not installed is skipped (exit 77 when neither is).
#
# usage: network-dhcp.sh NS_NETWORK_TOOL
set -eu
tool=$1
[ "$(id -u)" = 0 ] || { echo "network-dhcp: needs root (network namespaces)"; exit 77; }
command -v dnsmasq >/dev/null || { echo "network-dhcp: dnsmasq not installed (apt-get install dnsmasq-base)"; exit 77; }
have_dhclient=; have_dhcpcd=
command -v dhclient >/dev/null && have_dhclient=1
command -v dhcpcd >/dev/null && have_dhcpcd=1
[ -n "$have_dhclient$have_dhcpcd" ] || { echo "network-dhcp: neither dhclient nor dhcpcd installed"; exit 77; }
if [ -z "${OFFROOT_NS_NETWORK_INSIDE:-}" ]; then
    exec env OFFROOT_NS_NETWORK_INSIDE=1 unshare --net --mount --propagation private -- /bin/sh "$0" "$@"
fi

work=$(mktemp -d /tmp/offroot-dhcp.XXXXXX)
# The clients' scripts write resolv.conf and their state: into $work, not
# into this machine's files.
: >"$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf
for d in /var/lib/dhcpcd /run/dhcpcd /var/lib/dhcp; do
    [ -d "$d" ] && mount -t tmpfs tmpfs "$d"
done
unshare --net sleep 900 &
peer=$!
cleanup() {
    [ -f "$work/dnsmasq.pid" ] && kill "$(cat "$work/dnsmasq.pid")" 2>/dev/null
    pkill_ns
    kill "$peer" 2>/dev/null
    rm -rf "$work"
}
# The clients of this namespace only, by pid: never this machine's own.
pkill_ns() {
    for p in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ] || continue
        case "$(cat /proc/$p/comm 2>/dev/null)" in dhclient|dhcpcd) kill -9 "$p" 2>/dev/null || true ;; esac
    done
}
trap cleanup EXIT
# A timeout (ctest's) ends the test by a signal: the cleanup still runs.
trap 'exit 1' INT TERM HUP
sleep 0.2
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else not_ok "$desc"; fi; }

ip link set lo up
ip link add vc type veth peer name vs
ip link set vs netns "$peer"
nsenter -t "$peer" -n ip link set lo up
nsenter -t "$peer" -n ip link set vs up
nsenter -t "$peer" -n ip addr add 10.77.0.1/24 dev vs
ip link set vc up
nsenter -t "$peer" -n dnsmasq --conf-file=/dev/null --port=0 --interface=vs --bind-interfaces \
    --dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,2m --dhcp-authoritative \
    --dhcp-leasefile="$work/leases" --pid-file="$work/dnsmasq.pid" --log-dhcp --log-facility="$work/dnsmasq.log"
mac=$(ip link show vc | awk '/link\/ether/ {print $2}')

has_address() { ip -4 -o addr show dev vc | grep -q 'inet 10\.77\.0\.'; }
wait_address() {
    for _ in $(seq 1 100); do has_address && return 0; sleep 0.2; done
    return 1
}
lease_held() { grep -qi "$mac" "$work/leases" 2>/dev/null; }
releases() { grep -c 'DHCPRELEASE' "$work/dnsmasq.log" 2>/dev/null || true; }
wait_gone() {
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    return 1
}
wait_finite() {
    for _ in $(seq 1 "$1"); do
        ip -4 addr show dev vc | grep -A1 'inet 10\.77\.0\.' | grep -q 'valid_lft [0-9]*sec' && return 0
        sleep 1
    done
    return 1
}
pid_of() { cat "$1" 2>/dev/null; }
report() { echo "  $1: address $(has_address && echo kept || echo removed), lease $(lease_held && echo kept || echo released) in dnsmasq's file, $(releases) DHCPRELEASE so far"; }

start_dhclient() {
    dhclient -4 -v -pf "$work/dhclient.pid" -lf "$work/dhclient.leases" vc >>"$work/dhclient.log" 2>&1
    wait_address
}
start_dhcpcd() {
    printf 'noipv4ll\nnoipv6rs\nipv4only\noption routers, subnet_mask\n' >"$work/dhcpcd.conf"
    dhcpcd -4 -f "$work/dhcpcd.conf" vc >>"$work/dhcpcd.log" 2>&1
    wait_address
}
dhcpcd_pid() {
    for p in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ] || continue
        [ "$(cat /proc/$p/comm 2>/dev/null)" = dhcpcd ] && { echo "$p"; return; }
    done
}

if [ -n "$have_dhclient" ]; then
    echo "# dhclient $(dhclient --version 2>&1 | head -1)"
    check "dhclient gets a lease from dnsmasq" start_dhclient
    check "the lease is in dnsmasq's file" lease_held
    pid=$(pid_of "$work/dhclient.pid")
    kill -TERM "$pid"; wait_gone "$pid" || true
    sleep 0.5
    report "dhclient after SIGTERM"
    # 4.4.3 exits on SIGTERM without running its script or releasing: the
    # address stays, with the lease's lifetime, and runs out unrenewed.
    check "dhclient: SIGTERM sends no DHCPRELEASE" test "$(releases)" = 0
    check "dhclient: SIGTERM leaves the address to run out (finite lifetime, nobody renews)" sh -c 'ip -4 addr show dev vc | grep -A1 "inet 10\.77\.0\." | grep -q "valid_lft [0-9]*sec"'
    pkill_ns

    check "dhclient gets its lease again" start_dhclient
    before=$(releases)
    dhclient -4 -r -pf "$work/dhclient.pid" -lf "$work/dhclient.leases" vc >>"$work/dhclient.log" 2>&1 || true
    sleep 0.5
    report "dhclient -r (ifdown)"
    check "dhclient -r sends a DHCPRELEASE" test "$(releases)" -gt "$before"
    check "and dnsmasq drops the lease" sh -c '! grep -qi "$1" "$2"' - "$mac" "$work/leases"

    check "dhclient gets a lease once more" start_dhclient
    before=$(releases)
    "$tool" hold "$work/record" | sed 's/^/  /'
    sleep 0.5
    report "dhclient after hold-dhcp-leases"
    check "hold: dhclient is gone" sh -c '! kill -0 "$1" 2>/dev/null' - "$(pid_of "$work/dhclient.pid")"
    check "hold: the address stays" has_address
    check "hold: the lease stays in dnsmasq's file" lease_held
    check "hold: no DHCPRELEASE" test "$(releases)" = "$before"
    check "hold: vc recorded as a dhclient interface (its lifetime stays infinite after return)" grep -q '^keep-forever vc$' "$work/record"
    "$tool" freeze | sed 's/^/  frozen: /'
    check "freeze: the leased address is forever" sh -c 'ip -4 addr show dev vc | grep -A1 "inet 10\.77\.0\." | grep -q "valid_lft forever"'
    "$tool" thaw "$work/record" 60 | sed 's/^/  thawed: /'
    check "thaw: a dhclient interface keeps the infinite lifetime" sh -c 'ip -4 addr show dev vc | grep -A1 "inet 10\.77\.0\." | grep -q "valid_lft forever"'
    # As after return: the init starts dhclient again; its first RENEW
    # (T1, a minute into a 2-minute lease) gives the lease's lifetime back.
    start_dhclient
    check "after return: dhclient's first RENEW gives the address a finite lifetime again" wait_finite 100
    ip -4 addr flush dev vc
    rm -f "$work/dhclient.leases"
fi

if [ -n "$have_dhcpcd" ]; then
    echo "# $(dhcpcd --version 2>&1 | head -1)"
    check "dhcpcd gets a lease from dnsmasq" start_dhcpcd
    check "the lease is in dnsmasq's file" lease_held
    pid=$(dhcpcd_pid)
    before_term=$(releases)
    kill -TERM "$pid"; wait_gone "$pid" || true
    sleep 0.5
    report "dhcpcd after SIGTERM"
    check "dhcpcd: SIGTERM sends no DHCPRELEASE" test "$(releases)" = "$before_term"
    check "dhcpcd: SIGTERM removes the leased address" sh -c '! ip -4 -o addr show dev vc | grep -q "inet 10\.77\.0\."'
    pkill_ns

    check "dhcpcd gets its lease again" start_dhcpcd
    before=$(releases)
    dhcpcd -4 -f "$work/dhcpcd.conf" -k vc >>"$work/dhcpcd.log" 2>&1 || true
    sleep 1
    report "dhcpcd -k (release)"
    check "dhcpcd -k sends a DHCPRELEASE" test "$(releases)" -gt "$before"
    pkill_ns

    check "dhcpcd gets a lease once more" start_dhcpcd
    before=$(releases)
    "$tool" hold "$work/record" | sed 's/^/  /'
    sleep 0.5
    report "dhcpcd after hold-dhcp-leases"
    check "hold: dhcpcd is gone" test -z "$(dhcpcd_pid)"
    check "hold: the address stays" has_address
    check "hold: the lease stays in dnsmasq's file" lease_held
    check "hold: no DHCPRELEASE" test "$(releases)" = "$before"
    check "hold: vc not recorded as a dhclient interface" sh -c '! grep -q "^keep-forever" "$1"' - "$work/record"
    "$tool" freeze | sed 's/^/  frozen: /'
    check "freeze: the leased address is forever" sh -c 'ip -4 addr show dev vc | grep -A1 "inet 10\.77\.0\." | grep -q "valid_lft forever"'
    "$tool" thaw "$work/record" 60 | sed 's/^/  thawed: /'
    check "thaw: the lease's lifetime is back" sh -c 'ip -4 addr show dev vc | grep -A1 "inet 10\.77\.0\." | grep -q "valid_lft [0-9]*sec"'
    start_dhcpcd
    check "after return: dhcpcd, started again, holds the address with a finite lifetime" wait_finite 30
fi

[ "$failures" = 0 ] || { echo "network-dhcp: $failures failed"; sed 's/^/  dnsmasq: /' "$work/dnsmasq.log" | tail -20; exit 1; }
echo "network-dhcp: all passed"
