#include "catch.hpp"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <unistd.h>

#include <cmath>

#include "kernel/network.hpp"
#include "system/dhcp_clients.hpp"

using namespace offroot;

namespace {

std::string ip(const char* text) {
    auto b = address_bytes(text);
    REQUIRE(b.ok());
    return *b;
}

NlMessage link_message(int index, const char* name, unsigned flags, const char* kind = nullptr) {
    NlMessage m;
    m.type = RTM_NEWLINK;
    struct ifinfomsg h {};
    h.ifi_index = index;
    h.ifi_flags = flags;
    m.header = bytes_of(h);
    m.set(IFLA_IFNAME, std::string(name) + '\0');
    if (kind) {
        NlMessage nested;  // IFLA_LINKINFO { IFLA_INFO_KIND }
        nested.set(IFLA_INFO_KIND, std::string(kind) + '\0');
        std::string bytes = nested.encode(0).substr(sizeof(struct nlmsghdr));
        m.set(IFLA_LINKINFO, bytes);
    }
    return m;
}

NlMessage address_message(int family, int index, const char* address, int prefix, uint32_t valid, uint32_t preferred) {
    NlMessage m;
    m.type = RTM_NEWADDR;
    struct ifaddrmsg h {};
    h.ifa_family = static_cast<unsigned char>(family);
    h.ifa_prefixlen = static_cast<unsigned char>(prefix);
    h.ifa_index = static_cast<unsigned>(index);
    m.header = bytes_of(h);
    m.set(IFA_ADDRESS, ip(address));
    if (family == AF_INET) m.set(IFA_LOCAL, ip(address));
    struct ifa_cacheinfo ci {};
    ci.ifa_valid = valid;
    ci.ifa_prefered = preferred;
    m.set(IFA_CACHEINFO, bytes_of(ci));
    return m;
}

NlMessage route_message(int family, uint32_t table, const char* dst, int dst_len, const char* gateway, int oif,
                        uint8_t protocol = RTPROT_DHCP, uint32_t flags = 0) {
    NlMessage m;
    m.type = RTM_NEWROUTE;
    struct rtmsg h {};
    h.rtm_family = static_cast<unsigned char>(family);
    h.rtm_dst_len = static_cast<unsigned char>(dst_len);
    h.rtm_table = static_cast<unsigned char>(table < 256 ? table : RT_TABLE_UNSPEC);
    h.rtm_protocol = protocol;
    h.rtm_type = RTN_UNICAST;
    h.rtm_flags = flags;
    m.header = bytes_of(h);
    m.set(RTA_TABLE, bytes_of(table));
    if (dst) m.set(RTA_DST, ip(dst));
    if (gateway) m.set(RTA_GATEWAY, ip(gateway));
    m.set(RTA_OIF, bytes_of(static_cast<uint32_t>(oif)));
    return m;
}

NetworkSnapshot sample_snapshot() {
    NetworkSnapshot s;
    s.taken_at = 1234.5;
    s.links.push_back(*parse_link(link_message(1, "lo", IFF_UP | IFF_LOOPBACK)));
    s.links.push_back(*parse_link(link_message(2, "ens3", IFF_UP)));
    s.addresses.push_back(*parse_address(address_message(AF_INET, 2, "203.0.113.10", 32, kForever, kForever)));
    s.addresses.push_back(*parse_address(address_message(AF_INET6, 2, "2001:db8::10", 64, 600, 300)));
    // The hosting providers' set-up: a /32 and `default via GW onlink`.
    s.routes.push_back(*parse_route(route_message(AF_INET, RT_TABLE_MAIN, nullptr, 0, "203.0.113.1", 2, RTPROT_BOOT, RTNH_F_ONLINK)));
    s.routes.push_back(*parse_route(route_message(AF_INET, 100, "198.51.100.0", 24, "203.0.113.1", 2)));
    s.routes.push_back(*parse_route(route_message(AF_INET, RT_TABLE_MAIN, "10.9.0.0", 16, nullptr, 2, RTPROT_BOOT)));
    s.routes.push_back(*parse_route(route_message(AF_INET, RT_TABLE_LOCAL, "203.0.113.10", 32, nullptr, 2, RTPROT_KERNEL)));
    NlMessage rule;
    rule.type = RTM_NEWRULE;
    struct fib_rule_hdr rh {};
    rh.family = AF_INET;
    rh.src_len = 32;
    rh.action = FR_ACT_TO_TBL;
    rule.header = bytes_of(rh);
    rule.set(FRA_SRC, ip("203.0.113.10"));
    rule.set(FRA_PRIORITY, bytes_of(uint32_t(1000)));
    rule.set(FRA_TABLE, bytes_of(uint32_t(100)));
    s.rules.push_back(*parse_rule(rule));
    s.sysctls.push_back(NetSysctl{"ipv6/conf/ens3/accept_ra", "0"});
    s.sysctls.push_back(NetSysctl{"ipv4/conf/ens3/forwarding", "1"});
    s.keep_forever.push_back("ens3");
    return s;
}

}  // namespace

TEST_CASE("netlink messages: encoded and decoded back, attributes aligned", "[network]") {
    NlMessage m;
    m.type = RTM_NEWADDR;
    m.flags = 0x600;
    struct ifaddrmsg h {};
    h.ifa_family = AF_INET;
    h.ifa_index = 7;
    m.header = bytes_of(h);
    m.set(IFA_LABEL, std::string("ens3\0", 5));  // 5 bytes: padded to 8
    m.set(IFA_LOCAL, ip("10.0.2.15"));
    const std::string bytes = m.encode(42);
    CHECK(bytes.size() % 4 == 0);
    auto back = decode_messages(bytes, sizeof(struct ifaddrmsg));
    REQUIRE(back.ok());
    REQUIRE(back->size() == 1);
    const NlMessage& d = back->front();
    CHECK(d.type == RTM_NEWADDR);
    CHECK(d.flags == 0x600);
    CHECK(d.header == m.header);
    REQUIRE(d.attributes.size() == 2);
    CHECK(d.find(IFA_LABEL)->data == std::string("ens3\0", 5));
    CHECK(d.find(IFA_LOCAL)->data == ip("10.0.2.15"));
    // Truncated: refused, not read past the end.
    CHECK_FALSE(decode_messages(bytes.substr(0, bytes.size() - 4), sizeof(struct ifaddrmsg)).ok());
}

TEST_CASE("hex of the record: both ways, bad digits refused", "[network]") {
    CHECK(to_hex(std::string("\x00\xff\x10", 3)) == "00ff10");
    CHECK(*from_hex("00ff10") == std::string("\x00\xff\x10", 3));
    CHECK_FALSE(from_hex("0").ok());
    CHECK_FALSE(from_hex("zz").ok());
}

TEST_CASE("links: name, up, kind from IFLA_LINKINFO", "[network]") {
    auto l = parse_link(link_message(5, "wg0", IFF_UP, "wireguard"));
    REQUIRE(l.ok());
    CHECK(l->index == 5);
    CHECK(l->name == "wg0");
    CHECK(l->kind == "wireguard");
    CHECK((l->flags & IFF_UP));
}

TEST_CASE("addresses: local, prefix, lifetimes; IPv6 keyed without IFA_LOCAL", "[network]") {
    auto a = parse_address(address_message(AF_INET, 2, "10.0.2.15", 24, 86313, 86313));
    REQUIRE(a.ok());
    CHECK(a->local == "10.0.2.15");
    CHECK(a->prefix == 24);
    CHECK(a->valid == 86313);
    CHECK_FALSE(a->forever());
    CHECK(a->peer.empty());
    auto b = parse_address(address_message(AF_INET6, 2, "2001:db8::15", 64, kForever, kForever));
    REQUIRE(b.ok());
    CHECK(b->local == "2001:db8::15");
    CHECK(b->forever());
    CHECK(a->key() != b->key());
}

TEST_CASE("an address given back keeps its origin (IFA_PROTO), so that a SLAAC address stays kernel_ra", "[network]") {
    NlMessage m = address_message(AF_INET6, 2, "fec0::5054:ff:fe12:3456", 64, 86400, 14400);
    const uint8_t kernel_ra = 2;  // IFAPROT_KERNEL_RA
    m.set(11, std::string(1, static_cast<char>(kernel_ra)));  // IFA_PROTO
    auto a = parse_address(m);
    REQUIRE(a);
    const NlMessage request = address_request(*a, kForever, kForever, NLM_F_REPLACE);
    const auto* proto = request.find(11);
    REQUIRE(proto != nullptr);
    CHECK(proto->data == std::string(1, static_cast<char>(kernel_ra)));
    // One without an origin gets none.
    auto plain = parse_address(address_message(AF_INET, 2, "10.0.2.15", 24, kForever, kForever));
    REQUIRE(plain);
    CHECK(address_request(*plain, kForever, kForever, NLM_F_REPLACE).find(11) == nullptr);
}

TEST_CASE("routes: the onlink default, tables above 255, expiry in ticks", "[network]") {
    auto r = parse_route(route_message(AF_INET, RT_TABLE_MAIN, nullptr, 0, "203.0.113.1", 2, RTPROT_BOOT, RTNH_F_ONLINK));
    REQUIRE(r.ok());
    CHECK(r->is_default());
    CHECK(r->gateway == "203.0.113.1");
    CHECK((r->flags & RTNH_F_ONLINK));
    NetworkSnapshot s = sample_snapshot();
    CHECK(s.describe(*r) == "inet default via 203.0.113.1 dev ens3 onlink table main proto 3");

    auto t = parse_route(route_message(AF_INET6, 1000, "2001:db8:99::", 48, "fe80::1", 2, RTPROT_RA));
    REQUIRE(t.ok());
    CHECK(t->table == 1000);
    NlMessage m = t->message;
    struct rta_cacheinfo ci {};
    ci.rta_expires = 60001;  // 600.01 s in USER_HZ ticks: rounded up
    m.set(RTA_CACHEINFO, bytes_of(ci));
    CHECK(parse_route(m)->expires == 601);
}

TEST_CASE("route requests: a route through a nexthop object goes back by its id alone", "[network]") {
    // systemd-networkd's RA default route as the kernel dumps it
    // (nexthop_compat_mode 1): RTA_NH_ID, and the nexthop's gateway and
    // device besides.
    NlMessage dumped = route_message(AF_INET6, RT_TABLE_MAIN, nullptr, 0, "fe80::2", 2, RTPROT_RA);
    dumped.set(RTA_NH_ID, bytes_of(uint32_t(2740)));
    dumped.set(RTA_PRIORITY, bytes_of(uint32_t(1024)));
    dumped.set(RTA_PREF, std::string(1, '\0'));
    struct rta_cacheinfo ci {};
    ci.rta_expires = 180000;
    dumped.set(RTA_CACHEINFO, bytes_of(ci));
    auto r = parse_route(dumped);
    REQUIRE(r.ok());
    CHECK(r->nh_id == 2740);
    CHECK(r->gateway == "fe80::2");
    NetworkSnapshot s = sample_snapshot();
    CHECK(s.describe(*r) == "inet6 default nhid 2740 via fe80::2 dev ens3 table main proto 9 metric 1024 expires 1800s");

    const NlMessage frozen = route_request(*r, 0, NLM_F_CREATE | NLM_F_REPLACE);
    CHECK(frozen.type == RTM_NEWROUTE);
    CHECK(frozen.flags == (NLM_F_CREATE | NLM_F_REPLACE));
    CHECK(attribute_u32(frozen.find(RTA_NH_ID)) == 2740);
    CHECK(frozen.find(RTA_GATEWAY) == nullptr);
    CHECK(frozen.find(RTA_OIF) == nullptr);
    CHECK(frozen.find(RTA_CACHEINFO) == nullptr);
    CHECK(frozen.find(RTA_EXPIRES) == nullptr);
    CHECK(attribute_u32(frozen.find(RTA_PRIORITY)) == 1024);
    CHECK(frozen.find(RTA_PREF) != nullptr);
    const NlMessage thawed = route_request(*r, 1800, NLM_F_CREATE | NLM_F_REPLACE);
    CHECK(attribute_u32(thawed.find(RTA_EXPIRES)) == 1800);
    CHECK(thawed.find(RTA_GATEWAY) == nullptr);

    // Without a nexthop object the gateway and device are the route.
    auto plain = parse_route(route_message(AF_INET6, RT_TABLE_MAIN, nullptr, 0, "fe80::2", 2, RTPROT_RA));
    REQUIRE(plain.ok());
    CHECK(plain->nh_id == 0);
    const NlMessage p = route_request(*plain, 0, NLM_F_CREATE | NLM_F_REPLACE);
    CHECK(p.find(RTA_GATEWAY) != nullptr);
    CHECK(attribute_u32(p.find(RTA_OIF)) == 2);
    CHECK(p.find(RTA_NH_ID) == nullptr);
}

TEST_CASE("the network record: written and read back the same", "[network]") {
    const NetworkSnapshot s = sample_snapshot();
    const std::string text = serialize(s);
    CHECK(text.find("# inet default via 203.0.113.1 dev ens3 onlink") != std::string::npos);
    auto back = parse_network_record(text);
    REQUIRE(back.ok());
    CHECK(std::abs(back->taken_at - 1234.5) < 1e-6);  // no Approx: Catch2 2 and 3 spell it differently
    REQUIRE(back->links.size() == 2);
    REQUIRE(back->addresses.size() == 2);
    REQUIRE(back->routes.size() == 4);
    REQUIRE(back->rules.size() == 1);
    CHECK(back->addresses[1].valid == 600);
    CHECK(back->routes[0].key() == s.routes[0].key());
    CHECK(back->rules[0].key() == s.rules[0].key());
    CHECK(back->sysctls.size() == 2);
    CHECK(back->sysctls[0].value == "0");
    CHECK(back->keep_forever == std::vector<std::string>{"ens3"});
    CHECK(serialize(*back) == text);
    CHECK_FALSE(parse_network_record("route 00\n").ok());
    CHECK_FALSE(parse_network_record("wibble 00\n").ok());
}

TEST_CASE("restore plan: only what went away, gateways' routes first, the kernel's local table left to it", "[network]") {
    const NetworkSnapshot before = sample_snapshot();
    NetworkSnapshot now;
    now.links.push_back(*parse_link(link_message(1, "lo", IFF_UP | IFF_LOOPBACK)));
    now.links.push_back(*parse_link(link_message(2, "ens3", 0)));  // down
    now.addresses.push_back(before.addresses[1]);                    // the IPv6 one stayed
    now.sysctls.push_back(NetSysctl{"ipv6/conf/ens3/accept_ra", "1"});
    now.sysctls.push_back(NetSysctl{"ipv4/conf/ens3/forwarding", "1"});

    RestorePlan p = plan_restore(before, now);
    REQUIRE(p.links_up.size() == 1);
    CHECK(p.links_up[0]->name == "ens3");
    REQUIRE(p.addresses.size() == 1);
    CHECK(p.addresses[0]->local == "203.0.113.10");
    // 10.9.0.0/16 has no gateway: first; the local table's kernel route is
    // the kernel's to make again with its address.
    REQUIRE(p.routes.size() == 3);
    CHECK(p.routes[0]->dst == "10.9.0.0");
    CHECK(p.routes[1]->is_default());
    CHECK(p.routes[2]->table == 100);
    REQUIRE(p.rules.size() == 1);
    REQUIRE(p.sysctls.size() == 1);
    CHECK(p.sysctls[0]->name == "ipv6/conf/ens3/accept_ra");

    // Nothing missing: nothing to do.
    RestorePlan none = plan_restore(before, before);
    CHECK(none.links_up.empty());
    CHECK(none.addresses.empty());
    CHECK(none.routes.empty());
    CHECK(none.rules.empty());
    CHECK(none.sysctls.empty());
}

TEST_CASE("SSH_CONNECTION: the client's address, IPv4-mapped unwrapped", "[network]") {
    CHECK(ssh_connection_peer("10.0.2.2 54321 10.0.2.15 1022") == "10.0.2.2");
    CHECK(ssh_connection_peer("::ffff:10.0.2.2 54321 ::ffff:10.0.2.15 22") == "10.0.2.2");
    CHECK(ssh_connection_peer("2001:db8::1 54321 2001:db8::15 22") == "2001:db8::1");
    CHECK(ssh_connection_peer(nullptr).empty());
    CHECK(ssh_connection_peer("garbage").empty());
    CHECK(ssh_connection_peer("not-an-ip 1 2 3").empty());
}

TEST_CASE("the session's interface: VPNs vanish, the provider's NIC does not", "[network]") {
    CHECK(vanishing_interface_reason(PeerPath{"wg0", "wireguard"}).has_value());
    CHECK(vanishing_interface_reason(PeerPath{"tun0", "tun"}).has_value());
    CHECK(vanishing_interface_reason(PeerPath{"tailscale0", ""}).has_value());
    CHECK_FALSE(vanishing_interface_reason(PeerPath{"ens3", ""}).has_value());
    CHECK_FALSE(vanishing_interface_reason(PeerPath{"vc", "veth"}).has_value());
    CHECK_FALSE(vanishing_interface_reason(PeerPath{"bond0", "bond"}).has_value());
}

TEST_CASE("prefixes: the network of an address", "[network]") {
    CHECK(prefix_text(AF_INET6, "2001:db8:77::2", 64) == "2001:db8:77::");
    CHECK(prefix_text(AF_INET, "10.77.0.2", 24) == "10.77.0.0");
    CHECK(prefix_text(AF_INET, "10.77.0.2", 20) == "10.77.0.0");
    CHECK(prefix_text(AF_INET, "10.77.200.2", 17) == "10.77.128.0");
}

TEST_CASE("DHCP clients: found by executable, NetworkManager's own left to die with it", "[network]") {
    std::vector<Process> ps(4);
    ps[0].stat = ProcessStat{::getpid(), "dhclient", 'S', 1, 0};
    ps[0].exe = "/usr/sbin/dhclient";
    ps[0].cmdline = {"dhclient", "-4", "-v", "-i", "-pf", "/run/dhclient.ens3.pid", "-lf", "/var/lib/dhcp/dhclient.ens3.leases", "ens3"};
    ps[1].stat = ProcessStat{::getpid(), "systemd-network", 'S', 1, 0};  // comm cut at 15
    ps[2].stat = ProcessStat{::getpid(), "sshd", 'S', 1, 0};
    ps[2].exe = "/usr/sbin/sshd";
    ps[3].stat = ProcessStat{::getpid(), "kworker/0:1", 'I', 2, 0};
    ps[3].kernel_thread = true;
    auto clients = find_dhcp_clients(ps);
    REQUIRE(clients.size() == 2);
    CHECK(clients[0].kind == DhcpClientKind::dhclient);
    CHECK(clients[1].kind == DhcpClientKind::networkd);
    CHECK(dhclient_interfaces(clients, {"lo", "ens3"}) == std::vector<std::string>{"ens3"});

    std::vector<DhcpClient> with_nm = {{DhcpClientKind::network_manager, 500, 1, {}},
                                       {DhcpClientKind::dhclient, 501, 500, {"dhclient", "eth0"}},
                                       {DhcpClientKind::dhcpcd, 502, 1, {"dhcpcd", "eth1"}},
                                       {DhcpClientKind::networkd, 503, 1, {}}};
    auto standalone = standalone_clients(with_nm);
    REQUIRE(standalone.size() == 1);
    CHECK(standalone[0].pid == 502);
}
