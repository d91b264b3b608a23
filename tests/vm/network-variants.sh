#!/bin/bash
# The network as the provider set it up, in the set-ups that are not the
# default guest's (issue 10 part 6): the guest's network held through
# offroot enter, 60 s DETACHED and offroot return, and the init's own
# configuration in charge again afterwards. VARIANT:
#  ifupdown-dhclient (systemd guests): the Debian installer's default on a
#    systemd host: ifupdown + isc-dhcp-client from the mirror
#    (`allow-hotplug ens3` / `iface ens3 inet dhcp`), systemd-networkd
#    disabled and its .network file gone. enter SIGKILLs dhclient (no
#    release); after return ifup@ens3 starts a dhclient for ens3 again.
#  static-onlink (systemd, sysvinit): the usual hosting set-up, nothing else
#    on ens3: 10.0.2.15/32 and `default via 10.0.2.2 dev ens3 onlink` (QEMU's
#    user network answers ARP for 10.0.2.2, and its forwards to the guest go
#    to 10.0.2.15). networkd: Address=10.0.2.15/32, [Route] Gateway=10.0.2.2
#    GatewayOnLink=yes; ifupdown: `inet static`, `address 10.0.2.15/32`,
#    `gateway 10.0.2.2` (ifupdown adds the default route with `onlink`
#    itself). IPv6 is off on ens3 (networkd: LinkLocalAddressing=no,
#    IPv6AcceptRA=no; ifupdown: disable_ipv6 in pre-up), so that the /32
#    and its gateway are all there is.
#  ipv6 (systemd, sysvinit): QEMU's router advertisements (fec0::/64, the
#    host side fec0::2; fec0::/10 is site-local, so the address is of
#    scope site): networkd's default .network takes them itself (the
#    kernel's accept_ra is 0 there); ifupdown gets `iface ens3 inet6 auto`
#    (the kernel's SLAAC).
#  networkmanager (systemd guests): network-manager from the mirror, its
#    internal DHCP client, a keyfile profile for ens3 (IPv4 DHCP, IPv6 auto:
#    NM's defaults for a wired profile), systemd-networkd disabled and its
#    .network file gone, ens3 not in /etc/network/interfaces (NM's ifupdown
#    plugin leaves it to the keyfile). The DHCP client is NM itself: enter
#    SIGKILLs NetworkManager (kill-leftovers), no release, no flush; while
#    DETACHED no NM and no DHCP client runs, the lease's address held with
#    an infinite lifetime; after return NM has ens3 connected again (its
#    profile, not "connected (externally)"), renews the lease itself (its
#    journal) and the address's lifetime is finite again.
# Before enter the addresses, routes (all tables) and rules of both
# families are recorded (iproute2, port 22; lifetimes and expiry counters
# normalised away). While DETACHED (busybox's ip and ping over 1022):
# the variant's addresses and routes, their lifetimes infinite, the
# gateway answering ping, again after OFFROOT_VM_DETACHED_SECONDS (60).
# After return: NORMAL, sshd, the init's configuration in charge, the same
# addresses and routes as before enter and nothing more, the admin's 1022
# session held through all of it.
#
#   tests/vm/network-variants.sh DEB SUITE INIT VARIANT
# Every failure is a counted check or an explicit exit: no set -e.
# shellcheck source-path=SCRIPTDIR # the files sourced below, from any directory
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/offroot-guest.sh"
. "$here/checks.sh"
. "$here/guest-workload.sh"

usage="usage: network-variants.sh DEB SUITE INIT ifupdown-dhclient|static-onlink|ipv6|networkmanager"
deb=${1:?$usage}
suite=${2:?$usage}
init=${3:?$usage}
variant=${4:?$usage}
name="network-variants-$suite-$init-$variant"
detached_seconds=${OFFROOT_VM_DETACHED_SECONDS:-60}
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}
summary() { checks_summary "network-variants $suite/$init/$variant"; }
vm_setup_traps
session=
trap 'kill "$session" 2>/dev/null; vm_cleanup; summary' EXIT
[ "$(id -u)" = 0 ] || { fail "must run as root"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb"; exit 1; }
case "$init/$variant" in
systemd/ifupdown-dhclient | systemd/static-onlink | sysvinit/static-onlink | systemd/ipv6 | sysvinit/ipv6 | \
    systemd/networkmanager) ;;
sysvinit/ifupdown-dhclient)
    fail "ifupdown-dhclient is the set-up of a systemd host (a sysvinit guest has ifupdown and its DHCP client already: cycle.sh)"
    exit 1 ;;
sysvinit/networkmanager)
    fail "networkmanager is tested on systemd guests only"
    exit 1 ;;
*) fail "unknown INIT/VARIANT $init/$variant ($usage)"; exit 1 ;;
esac

img=$(vm_base_image "$suite" "$init") || { fail "image $suite/$init"; exit 1; }
offroot_guest "$name" "$suite" "$init" "$deb" "$img" || { fail "an armed $suite/$init guest"; exit 1; }
dir=$(vm_dir "$name")

# ---------------------------------------------------------------------------
# The variant's network configuration, into the image.
interfaces_head='auto lo
iface lo inet loopback
'
# in_mirror PACKAGE WHY: a pass naming the mirror's candidate of PACKAGE
# for the image's suite, or a fail saying WHY it matters.
in_mirror() {
    local policy candidate
    policy=$(vm_image_run "$name" "apt-get update -q >/dev/null 2>&1; apt-cache policy $1" 2>&1)
    printf '%s\n' "$policy" | sed 's/^/    /'
    candidate=$(awk -v p="$1:" '$1 == p {f = 1} f && /Candidate:/ {print $2; exit}' <<< "$policy")
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        fail "$suite has no $1 in the mirror: $2"
        return 1
    fi
    pass "$suite has $1 $candidate"
}
case "$init/$variant" in
systemd/ifupdown-dhclient)
    # Is there an isc-dhcp-client in SUITE at all (the sysvinit images take
    # dhcpcd-base from trixie on)? Asked of the mirror, said either way.
    in_mirror isc-dhcp-client "the installer's ifupdown + dhclient set-up cannot be built on $suite" || exit 1
    setup="set -e
        apt-get -y -q install ifupdown isc-dhcp-client
        command -v dhclient ifup
        printf '%s\n' '${interfaces_head}allow-hotplug ens3
iface ens3 inet dhcp' > /etc/network/interfaces
        rm -f /etc/systemd/network/50-offroot-dhcp.network
        systemctl disable systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service 2>&1
        ! systemctl is-enabled --quiet systemd-networkd.service" ;;
systemd/networkmanager)
    in_mirror network-manager "the NetworkManager set-up cannot be built on $suite" || exit 1
    # Without the recommends: ModemManager, wpa_supplicant and ppp hold
    # nothing of a wired ens3 and would only lengthen every boot under TCG.
    # dhcp=internal said although it is NM's default: no dhclient is
    # installed, and a lease held by NM itself is what the variant is about.
    # The profile is a keyfile (nmcli needs a running NM), 0600 or NM
    # ignores it; its ipv4/ipv6 methods are those NM gives a new wired
    # profile. /etc/network/interfaces as the installer leaves it beside NM:
    # lo only, so the ifupdown plugin (managed=false) claims no ens3.
    setup="set -e
        apt-get -y -q install --no-install-recommends network-manager
        command -v NetworkManager nmcli
        if command -v dhclient || command -v dhcpcd; then echo 'a DHCP client besides NM'; exit 1; fi
        mkdir -p /etc/NetworkManager/conf.d /etc/NetworkManager/system-connections /etc/network
        printf '%s\n' '[main]' 'dhcp=internal' > /etc/NetworkManager/conf.d/50-offroot-dhcp.conf
        uuid=\$(cat /proc/sys/kernel/random/uuid)
        printf '%s\n' '[connection]' 'id=ens3' \"uuid=\$uuid\" 'type=ethernet' 'interface-name=ens3' 'autoconnect=true' \
            '' '[ipv4]' 'method=auto' '' '[ipv6]' 'method=auto' > /etc/NetworkManager/system-connections/ens3.nmconnection
        chmod 600 /etc/NetworkManager/system-connections/ens3.nmconnection
        printf '%s' '${interfaces_head}' > /etc/network/interfaces
        rm -f /etc/systemd/network/50-offroot-dhcp.network
        systemctl disable systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service 2>&1
        if systemctl is-enabled --quiet systemd-networkd.service; then echo 'networkd still enabled'; exit 1; fi
        tail -n +1 /etc/NetworkManager/NetworkManager.conf /etc/NetworkManager/conf.d/*.conf \
            /etc/NetworkManager/system-connections/ens3.nmconnection /etc/network/interfaces || true
        systemctl is-enabled NetworkManager.service" ;;
systemd/static-onlink)
    setup="set -e
        rm -f /etc/systemd/network/50-offroot-dhcp.network
        printf '%s\n' '[Match]' 'Name=ens3' '' '[Network]' 'Address=10.0.2.15/32' 'DNS=10.0.2.3' \
            'LinkLocalAddressing=no' 'IPv6AcceptRA=no' '' '[Route]' 'Gateway=10.0.2.2' 'GatewayOnLink=yes' \
            > /etc/systemd/network/50-offroot-static.network
        cat /etc/systemd/network/50-offroot-static.network" ;;
sysvinit/static-onlink)
    setup="set -e
        printf '%s\n' '${interfaces_head}allow-hotplug ens3
iface ens3 inet static
    address 10.0.2.15/32
    gateway 10.0.2.2
    pre-up sysctl -q -w net.ipv6.conf.ens3.disable_ipv6=1' > /etc/network/interfaces
        cat /etc/network/interfaces" ;;
systemd/ipv6)
    # networkd's defaults: the image's DHCP=ipv4 .network takes RAs as well.
    setup="set -e
        cat /etc/systemd/network/50-offroot-dhcp.network
        ! grep -qi '^IPv6AcceptRA' /etc/systemd/network/50-offroot-dhcp.network" ;;
sysvinit/ipv6)
    setup="set -e
        printf '%s\n' '${interfaces_head}allow-hotplug ens3
iface ens3 inet dhcp
iface ens3 inet6 auto' > /etc/network/interfaces
        cat /etc/network/interfaces" ;;
esac
vm_image_run "$name" "$setup" > "$dir/variant-setup.log" 2>&1 \
    || { tail -n 30 "$dir/variant-setup.log"; fail "configuring the $variant network in the image"; exit 1; }
sed 's/^/    /' "$dir/variant-setup.log" | tail -n 12
pass "the $variant network configured in the image"

# ---------------------------------------------------------------------------
# Queries. Over 22, iproute2; over 1022 (the emergency environment, also in
# NORMAL) busybox's ip, which prints lifetimes of addresses but only
# "expires 0sec" for a route that expires (/proc/net/ipv6_route has its
# flag, RTF_EXPIRES).
status_is() { vm_ssh "$name" 1022 offroot status 2>/dev/null | grep -q "^offroot status: $1"; }
wait_for() {   # SECONDS CMD...: polls every 2 s until CMD succeeds
    local end=$(( $(date +%s) + $1 ))
    shift
    while :; do
        "$@" && return 0
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 2
    done
}
# shellcheck disable=SC2016 # expanded by the guest's shell
state_cmd='for c in "-4 -o addr" "-4 route show table all" "-6 -o addr" "-6 route show table all" "-4 rule" "-6 rule"; do
    echo "## ip $c"; ip $c; done'
# shellcheck disable=SC2016
listing_cmd='for c in "-4 addr" "-4 route show table all" "-6 addr" "-6 route show table all" "rule" "-6 rule"; do
    echo "## ip $c"; ip $c; done'
# The state for comparing: each line under its command, lifetimes, expiry
# counters and the "dynamic" mark (a finite lifetime) left out, sorted.
normalise() {
    sed -E 's/\\/ /g; s/ (valid|preferred)_lft [^ ]+//g; s/ expires -?[0-9]+sec//g; s/ dynamic\b//g; s/[[:space:]]+/ /g; s/ $//' |
        awk '/^## / {h = $0; next} {print h " | " $0}' | LC_ALL=C sort
}
state() { vm_ssh "$name" 22 "$state_cmd" | normalise; }

# The variant's own addresses and routes, by either ip (22 or 1022).
variant_there() {   # PORT
    local p=$1 a r
    case "$variant" in
    static-onlink)
        a=$(vm_ssh "$name" "$p" "ip -4 addr show dev ens3") || return 1
        r=$(vm_ssh "$name" "$p" "ip -4 route show") || return 1
        grep -q 'inet 10\.0\.2\.15/32 ' <<< "$a" && grep -qE '^default via 10\.0\.2\.2 dev ens3 .*onlink' <<< "$r" ;;
    ipv6)
        a=$(vm_ssh "$name" "$p" "ip -6 addr show dev ens3") || return 1
        r=$(vm_ssh "$name" "$p" "ip -6 route show") || return 1
        # networkd (trixie's 257) puts its RA default route through a nexthop
        # object: `default nhid N via fe80::2 dev ens3 proto ra`.
        grep -q 'inet6 fec0:' <<< "$a" && grep -qE '^default (nhid [0-9]+ )?via [0-9a-f:]+ dev ens3' <<< "$r" ;;
    ifupdown-dhclient | networkmanager)
        a=$(vm_ssh "$name" "$p" "ip -4 addr show dev ens3") || return 1
        r=$(vm_ssh "$name" "$p" "ip -4 route show") || return 1
        # No default route: with restrict=on (the harness's default) QEMU's
        # DHCP server sends no router option (nor DNS), so a DHCP guest has
        # the address and its subnet's route only (seen on trixie: the lease
        # has no "option routers"; networkd guests alike). 10.0.2.2 is on
        # the subnet.
        grep -q 'inet 10\.0\.2\.15/24 ' <<< "$a" && grep -qE '^10\.0\.2\.0/24 dev ens3 ' <<< "$r" ;;
    esac
}
variant_label() {
    case "$variant" in
    static-onlink) echo "10.0.2.15/32 on ens3 and its default route via 10.0.2.2 onlink" ;;
    ipv6) echo "a fec0::/64 address on ens3 and the IPv6 default route from RA" ;;
    ifupdown-dhclient) echo "dhclient's 10.0.2.15/24 on ens3 and its subnet's route (no router option from QEMU's DHCP with restrict=on)" ;;
    networkmanager) echo "NetworkManager's 10.0.2.15/24 on ens3 and its subnet's route (no router option from QEMU's DHCP with restrict=on)" ;;
    esac
}
# The init's network configuration in charge of ens3.
dhcp_client_for_ens3() { vm_ssh "$name" 22 "pgrep -a dhclient | grep -w ens3 || pgrep -a dhcpcd"; }
init_in_charge() {
    case "$init/$variant" in
    systemd/ifupdown-dhclient)
        vm_ssh "$name" 22 "ifquery --state ens3 | grep -q '^ens3=' && pgrep -a dhclient | grep -w ens3" ;;
    systemd/networkmanager)
        # Exactly "connected": a device NM only found configured, with no
        # profile of its own matching, is "connected (externally)", and NM
        # renews nothing there.
        vm_ssh "$name" 22 "nmcli -t -f DEVICE,STATE device | grep -x 'ens3:connected'" ;;
    systemd/*)
        vm_ssh "$name" 22 "networkctl status ens3 --no-pager | grep -E 'State: routable \\(configured'" ;;
    sysvinit/static-onlink)
        vm_ssh "$name" 22 "ifquery --state ens3 | grep '^ens3='" ;;
    sysvinit/ipv6)
        vm_ssh "$name" 22 "ifquery --state ens3 | grep '^ens3='" && dhcp_client_for_ens3 ;;
    esac
}
init_label() {
    case "$init/$variant" in
    systemd/ifupdown-dhclient) echo "ifupdown has ens3 up (ifquery --state) and a dhclient runs for ens3" ;;
    systemd/networkmanager) echo "nmcli: ens3 connected (NetworkManager's profile, not externally)" ;;
    systemd/*) echo "networkctl: ens3 routable (configured)" ;;
    sysvinit/static-onlink) echo "ifupdown has ens3 up (ifquery --state)" ;;
    sysvinit/ipv6) echo "ifupdown has ens3 up (ifquery --state) and its DHCP client runs" ;;
    esac
}
# The valid_lft of 10.0.2.15 on ens3, "86391sec" or "forever" (either ip).
dhcp_lifetime() {   # PORT
    vm_ssh "$name" "$1" "ip -4 addr show dev ens3" |
        awk '/inet 10\.0\.2\.15\// {f = 1; next} f && /valid_lft/ {print $2; exit}'
}
finite() { [[ "$1" =~ ^[0-9]+sec$ ]]; }
# NetworkManager's DHCP lease for 10.0.2.15 (its DHCP4 options, port 22).
nm_lease() { vm_ssh "$name" 22 "nmcli -t -f DHCP4 device show ens3" | grep -qE 'ip_address ?= ?10\.0\.2\.15$'; }
# NetworkManager's journal since GUEST_RETURN_TIME (the guest's clock just
# before offroot return), and in it a DHCP lease for 10.0.2.15 (1.42, 1.52:
# "dhcp4 (ens3): state changed new lease, address=10.0.2.15").
guest_return_time=0
nm_journal() {
    vm_ssh "$name" 22 "journalctl -u NetworkManager.service --since @$guest_return_time --no-pager --no-hostname -o short-precise"
}
nm_renewed() { nm_journal | grep -qE 'dhcp4 \(ens3\).*(new lease|bound).*10\.0\.2\.15'; }
# No NetworkManager (nor its nm-* helpers) and no DHCP client runs: each
# process's comm, by the shell's own read (the emergency environment's
# busybox may have no pgrep); what runs is printed.
# shellcheck disable=SC2016 # expanded by the guest's shell
comm_cmd='for f in /proc/[0-9]*/comm; do read -r c < "$f" && echo "${f%/comm} $c"; done 2>/dev/null; true'
no_nm_or_dhcp_process() {   # PORT
    local l m
    l=$(vm_ssh "$name" "$1" "$comm_cmd") && [ -n "$l" ] || return 1
    m=$(grep -E ' (NetworkManager|nm-[^ ]*|dhclient|dhcpcd|systemd-network)$' <<< "$l") || return 0
    printf '%s\n' "$m" | sed 's/^/    running: /'
    return 1
}
# Every address of ens3 with an infinite lifetime (busybox's ip, 1022).
ens3_lifetimes_forever() {
    local a
    a=$(vm_ssh "$name" 1022 "ip addr show dev ens3") || return 1
    grep -q 'valid_lft' <<< "$a" || return 1
    ! grep 'valid_lft' <<< "$a" | grep -qv 'valid_lft forever preferred_lft forever'
}
# shellcheck disable=SC2016 # the guest's shell picks the ping
ping_cmd='if command -v ping >/dev/null 2>&1; then p=ping; else p="busybox ping"; fi; $p'
gateway_answers() {   # PORT: 10.0.2.2 answers one ping (and fec0::2 for ipv6)
    vm_ssh "$name" "$1" "$ping_cmd -c1 -W2 10.0.2.2" || return 1
    [ "$variant" != ipv6 ] || vm_ssh "$name" "$1" "$ping_cmd -6 -c1 -W2 fec0::2"
}

# ---------------------------------------------------------------------------
vm_boot "$name" || { fail "vm_boot"; exit 1; }
vm_wait_ssh "$name" 22 "$boot_timeout" || { fail "sshd on 22 (the guest's forwarded port reaches 10.0.2.15)"; exit 1; }
vm_wait_ssh "$name" 1022 60 || { fail "ssh on 1022"; exit 1; }
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }

check "before enter: $(variant_label)" wait_for 90 variant_there 22 || {
    vm_ssh "$name" 22 "$listing_cmd" | sed 's/^/    /'; exit 1; }
check "before enter: $(init_label)" wait_for 60 init_in_charge
case "$variant" in
static-onlink)
    check "before enter: ens3's only IPv4 address is 10.0.2.15/32" \
        test "$(vm_ssh "$name" 22 "ip -4 -o addr show dev ens3" | awk '{print $4}' | xargs)" = 10.0.2.15/32
    main4=$(vm_ssh "$name" 22 "ip -4 route show table main")
    printf '%s\n' "$main4" | sed 's/^/    main: /'
    check "before enter: the main table's only IPv4 route is the onlink default (no /24)" \
        test "$(grep -c . <<< "$main4")" = 1
    check "before enter: no IPv6 on ens3" test -z "$(vm_ssh "$name" 22 "ip -6 addr show dev ens3")" ;;
ipv6)
    ra=$(vm_ssh "$name" 22 "cat /proc/sys/net/ipv6/conf/ens3/accept_ra; ip -6 route show default")
    printf '%s\n' "$ra" | sed 's/^/    accept_ra, RA default route: /' ;;
ifupdown-dhclient)
    check "before enter: systemd-networkd does not run" vm_ssh "$name" 22 "! systemctl is-active --quiet systemd-networkd.service"
    vm_ssh "$name" 22 "pgrep -a dhclient" | sed 's/^/    /' ;;
networkmanager)
    check "before enter: systemd-networkd does not run" vm_ssh "$name" 22 "! systemctl is-active --quiet systemd-networkd.service"
    vm_ssh "$name" 22 "nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device; nmcli -t -f DHCP4 device show ens3" | sed 's/^/    /'
    check "before enter: NetworkManager's DHCP holds the lease of 10.0.2.15 (nmcli's DHCP4 options)" nm_lease
    lft=$(dhcp_lifetime 22)
    check "before enter: 10.0.2.15/24 has the lease's finite lifetime (valid_lft ${lft:-none})" finite "$lft"
    # NM's own client (dhcp=internal): nothing else to SIGKILL at
    # hold-dhcp-leases, the lease held by the NetworkManager process.
    check "before enter: no dhclient or dhcpcd runs (NM's internal DHCP client)" \
        vm_ssh "$name" 22 "! pgrep -a 'dhclient|dhcpcd'"
    # NM processes QEMU's RAs itself (the kernel's accept_ra 0): an IPv6
    # default route of proto ra, whose expiry DETACHED looks at as ipv6's
    # (when there is one: the IPv6 of this variant is NM's default only).
    ra=$(vm_ssh "$name" 22 "cat /proc/sys/net/ipv6/conf/ens3/accept_ra; ip -6 route show default")
    printf '%s\n' "$ra" | sed 's/^/    accept_ra, RA default route: /'
    grep -q 'dev ens3' <<< "$ra" || echo "# before enter: no IPv6 default route on ens3 (no RA taken by NM): its expiry is not looked at" ;;
esac
check "before enter: the gateway answers ping$([ "$variant" = ipv6 ] && echo ", fec0::2 too")" gateway_answers 22

vm_ssh "$name" 22 "$listing_cmd" > "$dir/before.listing" 2>&1
sed 's/^/    /' "$dir/before.listing"
state > "$dir/before.state" || { fail "recording the network before enter"; exit 1; }
check "the network before enter recorded ($(grep -c . "$dir/before.state") lines)" test -s "$dir/before.state"

# The admin's session on 1022, held open through enter, DETACHED and return.
hold_session "$name" "$dir/session.out" || { fail "the 1022 session"; exit 1; }

out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot enter 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
check "offroot enter" test "$rc" = 0 || exit 1
enter_line=$(grep 'DETACHED:' <<< "$out" || true)
check "enter checked the route to the admin's address" grep -q "route to the admin's" <<< "$out"
[ "$variant" = ifupdown-dhclient ] && check "enter SIGKILLed dhclient (no release)" grep -q 'SIGKILLed dhclient' <<< "$out"
# NM's DHCP is in NM: it outlives stop-services (the detached target wants
# it) and dies in kill-leftovers' first move.
[ "$variant" = networkmanager ] && check "enter SIGKILLed NetworkManager (no release, no flush)" grep -q 'SIGKILL NetworkManager' <<< "$out"
check_not "enter froze every lifetime (no 'NOT frozen' warning)" grep -q 'NOT frozen' <<< "$out"

detached_checks() {   # WHEN
    local when=$1
    check "$when: offroot status says DETACHED" status_is DETACHED
    check "$when: $(variant_label)" variant_there 1022
    check "$when: the gateway answers ping$([ "$variant" = ipv6 ] && echo ", fec0::2 too") (busybox ping)" gateway_answers 1022
    check "$when: the 1022 session held since before enter is connected" kill -0 "$session"
    [ "$variant" != networkmanager ] ||
        check "$when: no NetworkManager and no DHCP client runs (NM got no chance to release the lease)" no_nm_or_dhcp_process 1022
}
vm_ssh "$name" 1022 "$listing_cmd; echo '## ip -6 neigh'; ip -6 neigh" > "$dir/detached.listing" 2>&1
sed 's/^/    /' "$dir/detached.listing"
detached_checks DETACHED
check "DETACHED: every address of ens3 has an infinite lifetime (valid_lft forever)" ens3_lifetimes_forever
if [ "$variant" = ipv6 ] || { [ "$variant" = networkmanager ] && grep -q 'dev ens3' <<< "$ra"; }; then
    # The RA default route. busybox's ip says "expires 0sec" for any route
    # that expires; /proc/net/ipv6_route has the flag (RTF_EXPIRES,
    # 0x400000). Where the kernel itself processes RAs (accept_ra 2, or 1
    # without forwarding: ifupdown's inet6 auto) it renews the route at
    # each RA (QEMU sends them every 200-600 s, router lifetime 1800 s) and
    # offroot leaves it to it; where networkd took the RAs (accept_ra 0) no
    # one renews it while DETACHED; nor where NM took them (accept_ra 0 too).
    ra_line=$(vm_ssh "$name" 1022 "ip -6 route show default" | grep 'dev ens3' | head -n 1)
    ra_flags=$(vm_ssh "$name" 1022 "cat /proc/net/ipv6_route" | awk '$1 ~ /^0+$/ && $2 == "00" && $10 == "ens3" {print $9; exit}')
    ra_sys=$(vm_ssh "$name" 1022 "cat /proc/sys/net/ipv6/conf/ens3/accept_ra /proc/sys/net/ipv6/conf/ens3/forwarding" | xargs)
    accept_ra=${ra_sys%% *} forwarding=${ra_sys##* }
    expires=no
    [ -n "$ra_flags" ] && (( 16#$ra_flags & 0x400000 )) && expires=yes
    echo "# DETACHED: the RA default route: ip -6 route: '${ra_line:-none}'; /proc/net/ipv6_route flags ${ra_flags:-none} (RTF_EXPIRES: $expires); ens3 accept_ra=$accept_ra forwarding=$forwarding"
    if [ -z "$ra_line" ]; then
        fail "DETACHED: the IPv6 default route from RA is gone"
    elif [ "$expires" = no ]; then
        pass "DETACHED: the IPv6 default route from RA does not expire: $ra_line"
    elif [ "$accept_ra" = 2 ] || { [ "$accept_ra" = 1 ] && [ "$forwarding" = 0 ]; }; then
        pass "DETACHED: the IPv6 default route from RA expires, but the kernel processes RAs on ens3 (accept_ra=$accept_ra) and renews it: $ra_line"
    else
        fail "the IPv6 default route from RA still expires while DETACHED (accept_ra=$accept_ra: no one renews it): $ra_line"
    fi
fi

echo "# $detached_seconds s DETACHED"
sleep "$detached_seconds"
detached_checks "after ${detached_seconds} s DETACHED"
vm_ssh "$name" 1022 "ip addr show dev ens3; ip route; ip -6 route" 2>&1 | sed 's/^/    /'

lines_at_return=$(wc -l < "$dir/session.out")
# The guest's clock before return: NM's journal from then on says what it
# did with ens3 once the init started it again.
guest_return_time=$(vm_ssh "$name" 1022 "date +%s") || guest_return_time=0
out=$(OFFROOT_VM_SSH_TIMEOUT=600 vm_ssh "$name" 1022 offroot return 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
check "offroot return" test "$rc" = 0 || exit 1
return_line=$(grep 'NORMAL:' <<< "$out" || true)
check "after return: sshd on 22 answers" vm_wait_ssh "$name" 22 180 || exit 1
[ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait >/dev/null || true; }
check "after return: offroot status says NORMAL" status_is NORMAL
check "after return: $(init_label)" wait_for 90 init_in_charge
[ "$init" = systemd ] && check "after return: no failed units" no_failed_units "$name"
if [ "$variant" = networkmanager ]; then
    # A finite lifetime alone could be offroot's thaw (the lease's, given
    # back at return), not NM's: its journal says whether NM took the lease
    # again itself.
    check "after return: NetworkManager's DHCP took the lease of 10.0.2.15 again (its journal since return)" wait_for 60 nm_renewed
    nm_journal > "$dir/nm-return.log" 2>&1
    grep -E 'ens3|dhcp|manager:|startup|NetworkManager \(version' "$dir/nm-return.log" | head -n 60 | sed 's/^/    NM: /'
    vm_ssh "$name" 22 "nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device; nmcli -t -f GENERAL.STATE,GENERAL.CONNECTION,DHCP4 device show ens3" | sed 's/^/    /'
    check "after return: NetworkManager's DHCP holds the lease of 10.0.2.15 (nmcli's DHCP4 options)" nm_lease
    lft=$(dhcp_lifetime 22)
    check "after return: 10.0.2.15/24's lifetime is finite again (valid_lft ${lft:-none})" finite "$lft"
fi
# The init's configuration has had its turn: the state as before enter,
# given up to 120 s (an RA, a DHCP exchange).
same_as_before() { state > "$dir/after.state" && cmp -s "$dir/before.state" "$dir/after.state"; }
wait_for 120 same_as_before || true
vm_ssh "$name" 22 "$listing_cmd" > "$dir/after.listing" 2>&1
sed 's/^/    /' "$dir/after.listing"
missing=$(LC_ALL=C comm -23 "$dir/before.state" "$dir/after.state")
added=$(LC_ALL=C comm -13 "$dir/before.state" "$dir/after.state")
[ -z "$missing" ] || printf '%s\n' "$missing" | sed 's/^/    missing: /'
[ -z "$added" ] || printf '%s\n' "$added" | sed 's/^/    extra: /'
check "after return: every address, route and rule of before enter is there (normalised)" test -z "$missing"
check "after return: no address, route or rule that was not there before enter (nothing of offroot left)" test -z "$added"
check "after return: $(variant_label)" variant_there 22
check "after return: the gateway answers ping$([ "$variant" = ipv6 ] && echo ", fec0::2 too")" gateway_answers 22
check "after return: offroot left no network record behind" vm_ssh "$name" 1022 "test ! -e /var/lib/offroot/network"
session_printing() {   # LINES: connected, and printed more than LINES lines
    kill -0 "$session" 2>/dev/null && [ "$(wc -l < "$dir/session.out")" -gt "$1" ]
}
sleep 3
check "after return: the 1022 session held since before enter is connected and printed on" \
    session_printing "$lines_at_return"
check "after return: a new 1022 login works" vm_ssh "$name" 1022 true
kill "$session" 2>/dev/null || true

check "clean poweroff" vm_poweroff "$name" 22
echo "network-variants $suite/$init/$variant figures: ${enter_line:-no DETACHED line} / ${return_line:-no NORMAL line}"
[ "$failed" -eq 0 ]
