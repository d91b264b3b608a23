#include "kernel/network.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <set>
#include <thread>

#include "base/files.hpp"
#include "base/text.hpp"

// IFA_PROTO (Linux 6.1): where an address came from. By number, for
// headers older than the kernels it runs on.
#ifdef IFA_PROTO
static_assert(IFA_PROTO == 11);
#endif
constexpr uint16_t kIfaProto = 11;

namespace offroot {
namespace {

// The flags that RTM_NEWADDR takes from userspace; the rest are the
// kernel's state (tentative, deprecated, permanent, secondary).
constexpr uint32_t kSettableAddressFlags = IFA_F_NODAD | IFA_F_OPTIMISTIC | IFA_F_HOMEADDRESS |
                                           IFA_F_MANAGETEMPADDR | IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN;
// Route flags the kernel refuses on RTM_NEWROUTE (RTNH_F_DEAD, _LINKDOWN)
// or sets itself (offload, trap, cloned).
constexpr uint32_t kSettableRouteFlags = RTNH_F_ONLINK;

double boottime_seconds() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string family_name(int family) { return family == AF_INET6 ? "inet6" : family == AF_INET ? "inet" : std::to_string(family); }

std::string table_name(uint32_t t) {
    switch (t) {
        case RT_TABLE_MAIN: return "main";
        case RT_TABLE_LOCAL: return "local";
        case RT_TABLE_DEFAULT: return "default";
        default: return std::to_string(t);
    }
}

}  // namespace

std::string prefix_text(int family, const std::string& address, int prefix) {
    auto bytes = address_bytes(address);
    if (!bytes) return {};
    std::string b = *bytes;
    for (size_t i = 0; i < b.size(); ++i) {
        const int bits = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
        b[i] = static_cast<char>(static_cast<unsigned char>(b[i]) & static_cast<unsigned char>(0xff00 >> bits));
    }
    return address_text(family, b);
}

std::string address_text(int family, std::string_view bytes) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family == AF_INET && bytes.size() == 4) return ::inet_ntop(AF_INET, bytes.data(), buf, sizeof buf) ? buf : "?";
    if (family == AF_INET6 && bytes.size() == 16) return ::inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf) ? buf : "?";
    return {};
}

Result<std::string> address_bytes(const std::string& text, int* family) {
    unsigned char buf[16];
    if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
        if (family) *family = AF_INET;
        return std::string(reinterpret_cast<char*>(buf), 4);
    }
    if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
        if (family) *family = AF_INET6;
        return std::string(reinterpret_cast<char*>(buf), 16);
    }
    return plain_error(quoted(text) + " is not an IPv4 or IPv6 address");
}

std::string NetAddress::key() const {
    return family_name(family) + " " + std::to_string(index) + " " + local + "/" + std::to_string(prefix) + (peer.empty() ? "" : " peer " + peer);
}

std::string NetRoute::key() const {
    return family_name(family) + " table " + std::to_string(table) + " type " + std::to_string(type) + " " +
           (dst.empty() ? "default" : dst) + "/" + std::to_string(dst_len) + " tos " + std::to_string(tos) + " metric " +
           std::to_string(priority) + " via " + gateway + " dev " + std::to_string(oif);
}

std::string NetRule::key() const {
    // Dumped rules are canonical: the same rule dumps the same bytes.
    std::string k = message.header;
    auto attrs = message.attributes;
    std::sort(attrs.begin(), attrs.end(), [](const NlAttribute& a, const NlAttribute& b) {
        return a.type != b.type ? a.type < b.type : a.data < b.data;
    });
    for (const auto& a : attrs) k += "|" + std::to_string(a.type) + ":" + to_hex(a.data);
    return k;
}

const NetLink* NetworkSnapshot::link(int index) const {
    for (const auto& l : links)
        if (l.index == index) return &l;
    return nullptr;
}

const NetLink* NetworkSnapshot::link(const std::string& name) const {
    for (const auto& l : links)
        if (l.name == name) return &l;
    return nullptr;
}

std::string NetworkSnapshot::interface_name(int index) const {
    const NetLink* l = link(index);
    return l ? l->name : "#" + std::to_string(index);
}

std::string NetworkSnapshot::describe(const NetAddress& a) const {
    std::string s = family_name(a.family) + " " + a.local + "/" + std::to_string(a.prefix) +
                    (a.peer.empty() ? "" : " peer " + a.peer) + " dev " + interface_name(a.index);
    s += a.forever() ? " valid forever" : " valid " + std::to_string(a.valid) + "s preferred " + std::to_string(a.preferred) + "s";
    return s;
}

std::string NetworkSnapshot::describe(const NetRoute& r) const {
    std::string s = family_name(r.family) + " " + (r.dst_len == 0 ? std::string("default") : r.dst + "/" + std::to_string(r.dst_len));
    if (r.nh_id) s += " nhid " + std::to_string(r.nh_id);
    if (!r.gateway.empty()) s += " via " + r.gateway;
    if (r.oif) s += " dev " + interface_name(r.oif);
    if (r.flags & RTNH_F_ONLINK) s += " onlink";
    if (!r.prefsrc.empty()) s += " src " + r.prefsrc;
    s += " table " + table_name(r.table) + " proto " + std::to_string(r.protocol);
    if (r.priority) s += " metric " + std::to_string(r.priority);
    if (r.expires) s += " expires " + std::to_string(r.expires) + "s";
    return s;
}

std::string NetworkSnapshot::describe(const NetRule& r) const {
    std::string s = family_name(r.family) + " rule priority " + std::to_string(r.priority) + " table " + table_name(r.table);
    auto h = header_as<struct fib_rule_hdr>(r.message);
    if (const auto* src = r.message.find(FRA_SRC)) s += " from " + address_text(r.family, src->data) + "/" + std::to_string(h.src_len);
    if (const auto* dst = r.message.find(FRA_DST)) s += " to " + address_text(r.family, dst->data) + "/" + std::to_string(h.dst_len);
    if (const auto* fw = r.message.find(FRA_FWMARK)) s += " fwmark " + std::to_string(attribute_u32(fw));
    return s;
}

Result<NetLink> parse_link(const NlMessage& m) {
    if (m.type != RTM_NEWLINK || m.header.size() < sizeof(struct ifinfomsg)) return plain_error("not an RTM_NEWLINK message");
    auto h = header_as<struct ifinfomsg>(m);
    NetLink l;
    l.message = m;
    l.index = h.ifi_index;
    l.flags = h.ifi_flags;
    if (const auto* n = m.find(IFLA_IFNAME)) l.name = std::string(n->data.c_str());
    if (const auto* info = m.find(IFLA_LINKINFO))
        for (const auto& a : decode_attributes(info->data))
            if (a.type == IFLA_INFO_KIND) l.kind = std::string(a.data.c_str());
    return l;
}

Result<NetAddress> parse_address(const NlMessage& m) {
    if (m.type != RTM_NEWADDR || m.header.size() < sizeof(struct ifaddrmsg)) return plain_error("not an RTM_NEWADDR message");
    auto h = header_as<struct ifaddrmsg>(m);
    NetAddress a;
    a.message = m;
    a.family = h.ifa_family;
    a.index = static_cast<int>(h.ifa_index);
    a.prefix = h.ifa_prefixlen;
    a.scope = h.ifa_scope;
    a.flags = attribute_u32(m.find(IFA_FLAGS), h.ifa_flags);
    const auto* local = m.find(IFA_LOCAL);
    const auto* address = m.find(IFA_ADDRESS);
    if (local == nullptr) local = address;
    if (local == nullptr) return plain_error("an address message without IFA_LOCAL or IFA_ADDRESS");
    a.local = address_text(a.family, local->data);
    if (address && local != address && address->data != local->data) a.peer = address_text(a.family, address->data);
    if (const auto* ci = m.find(IFA_CACHEINFO); ci && ci->data.size() >= sizeof(struct ifa_cacheinfo)) {
        struct ifa_cacheinfo c {};
        std::memcpy(&c, ci->data.data(), sizeof c);
        a.valid = c.ifa_valid;
        a.preferred = c.ifa_prefered;
    }
    return a;
}

Result<NetRoute> parse_route(const NlMessage& m) {
    if (m.type != RTM_NEWROUTE || m.header.size() < sizeof(struct rtmsg)) return plain_error("not an RTM_NEWROUTE message");
    auto h = header_as<struct rtmsg>(m);
    NetRoute r;
    r.message = m;
    r.family = h.rtm_family;
    r.table = attribute_u32(m.find(RTA_TABLE), h.rtm_table);
    r.dst_len = h.rtm_dst_len;
    r.tos = h.rtm_tos;
    r.protocol = h.rtm_protocol;
    r.scope = h.rtm_scope;
    r.type = h.rtm_type;
    r.flags = h.rtm_flags;
    if (const auto* d = m.find(RTA_DST)) r.dst = address_text(r.family, d->data);
    if (const auto* g = m.find(RTA_GATEWAY)) r.gateway = address_text(r.family, g->data);
    if (const auto* p = m.find(RTA_PREFSRC)) r.prefsrc = address_text(r.family, p->data);
    r.oif = static_cast<int>(attribute_u32(m.find(RTA_OIF)));
    r.priority = attribute_u32(m.find(RTA_PRIORITY));
    r.nh_id = attribute_u32(m.find(RTA_NH_ID));
    if (const auto* ci = m.find(RTA_CACHEINFO); ci && ci->data.size() >= sizeof(struct rta_cacheinfo)) {
        struct rta_cacheinfo c {};
        std::memcpy(&c, ci->data.data(), sizeof c);
        // rta_expires is in clock ticks (USER_HZ, 100 on Linux).
        if (c.rta_expires > 0) r.expires = static_cast<uint32_t>((static_cast<uint64_t>(c.rta_expires) + 99) / 100);
    }
    return r;
}

Result<NetRule> parse_rule(const NlMessage& m) {
    if (m.type != RTM_NEWRULE || m.header.size() < sizeof(struct fib_rule_hdr)) return plain_error("not an RTM_NEWRULE message");
    auto h = header_as<struct fib_rule_hdr>(m);
    NetRule r;
    r.message = m;
    r.family = h.family;
    r.priority = attribute_u32(m.find(FRA_PRIORITY));
    r.table = attribute_u32(m.find(FRA_TABLE), h.table);
    return r;
}

namespace {

constexpr const char* kSysctlNames[] = {"forwarding", "accept_ra"};

// /proc/sys/net/ipv4/ip_forward, ipv{4,6}/conf/*/forwarding,
// ipv6/conf/*/accept_ra: "all" and "default" first, as they change the
// others when written.
std::vector<NetSysctl> read_sysctls(const std::string& root, const std::vector<NetLink>& links) {
    std::vector<NetSysctl> out;
    auto add = [&](const std::string& name) {
        auto v = read_file(root + "/" + name);
        if (!v) return;  // IPv6 disabled, or an interface without it
        std::string value = *v;
        while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
        out.push_back(NetSysctl{name, value});
    };
    add("ipv4/ip_forward");
    std::vector<std::string> names = {"all", "default"};
    for (const auto& l : links) names.push_back(l.name);
    for (const auto& n : names) add("ipv4/conf/" + n + "/forwarding");
    for (const auto& n : names)
        for (const char* s : kSysctlNames) add("ipv6/conf/" + n + "/" + s);
    return out;
}

template <typename T, typename Parse>
Status dump_into(RtNetlink& nl, uint16_t type, size_t header_size, const char* what, Parse parse, std::vector<T>& out) {
    auto messages = nl.dump(type, AF_UNSPEC, header_size, what);
    if (!messages) return messages.error();
    for (const auto& m : *messages) {
        auto parsed = parse(m);
        if (parsed) out.push_back(std::move(*parsed));
    }
    return {};
}

// What the kernel keeps by itself or recreates with an address: cloned
// routes and the IPv6 cache are not configuration.
bool is_configuration(const NetRoute& r) { return !(r.flags & RTM_F_CLONED); }

// The kernel refreshes router-advertisement routes itself on an interface
// where it processes advertisements (accept_ra 1 without forwarding, or 2).
bool kernel_processes_ra(const std::string& sysctl_root, const std::string& ifname) {
    auto read_value = [&](const char* name) -> int {
        auto v = read_file(sysctl_root + "/ipv6/conf/" + ifname + "/" + name);
        int n = 0;
        if (!v) return -1;
        std::string t = *v;
        while (!t.empty() && t.back() == '\n') t.pop_back();
        return parse_number(t, n) ? n : -1;
    };
    const int accept_ra = read_value("accept_ra"), forwarding = read_value("forwarding");
    return accept_ra == 2 || (accept_ra == 1 && forwarding == 0);
}

// Temporary (privacy) IPv6 addresses are the kernel's to rotate. The flag's
// bit is IFA_F_SECONDARY for IPv4.
bool is_privacy_address(const NetAddress& a) { return a.family == AF_INET6 && (a.flags & IFA_F_TEMPORARY); }

// The kernel's own routes go and come with their addresses: a prefix
// route follows its address's lifetime, the local table is made from the
// addresses.
bool follows_an_address(const NetRoute& r) { return r.protocol == RTPROT_KERNEL; }

}  // namespace

NlMessage address_request(const NetAddress& a, uint32_t valid, uint32_t preferred, uint16_t flags) {
    NlMessage m;
    m.type = RTM_NEWADDR;
    m.flags = flags;
    auto h = header_as<struct ifaddrmsg>(a.message);
    h.ifa_flags = static_cast<uint8_t>(a.flags & kSettableAddressFlags & 0xff);
    m.header = bytes_of(h);
    for (uint16_t t : {uint16_t(IFA_ADDRESS), uint16_t(IFA_LOCAL), uint16_t(IFA_BROADCAST), uint16_t(IFA_LABEL),
                       uint16_t(IFA_RT_PRIORITY), uint16_t(kIfaProto)})
        if (const auto* attr = a.message.find(t)) m.attributes.push_back(*attr);
    m.set(IFA_FLAGS, bytes_of(static_cast<uint32_t>(a.flags & kSettableAddressFlags)));
    struct ifa_cacheinfo ci {};
    ci.ifa_valid = valid;
    ci.ifa_prefered = std::min(preferred, valid);
    m.set(IFA_CACHEINFO, bytes_of(ci));
    return m;
}

NlMessage route_request(const NetRoute& r, uint32_t expires, uint16_t flags) {
    NlMessage m = r.message;
    m.type = RTM_NEWROUTE;
    m.flags = flags;
    auto h = header_as<struct rtmsg>(r.message);
    h.rtm_flags &= kSettableRouteFlags;
    m.header = bytes_of(h);
    m.erase(RTA_CACHEINFO);
    m.erase(RTA_EXPIRES);
    // A route through a nexthop object (systemd-networkd's RA default
    // route: `default nhid N via fe80::2 dev ens3 proto ra`) is dumped with
    // RTA_NH_ID and, as net.ipv4.nexthop_compat_mode (1 by default) has it
    // (rt6_fill_node), with the nexthop's RTA_GATEWAY and RTA_OIF too, for
    // tools that know no nexthops. rtm_to_fib6_config (and IPv4's
    // rtm_to_fib_config) refuses RTA_NH_ID next to any of those: EINVAL,
    // "Nexthop specification and nexthop id are mutually exclusive" (6.12's
    // source; 6.18 measured). The id alone says it all, and keeps the route
    // on networkd's nexthop.
    if (r.nh_id)
        for (uint16_t t : {uint16_t(RTA_GATEWAY), uint16_t(RTA_OIF), uint16_t(RTA_MULTIPATH), uint16_t(RTA_ENCAP),
                           uint16_t(RTA_ENCAP_TYPE), uint16_t(RTA_VIA)})
            m.erase(t);
    if (expires) m.set(RTA_EXPIRES, bytes_of(expires));
    return m;
}

Result<NetworkSnapshot> snapshot_network(const std::string& sysctl_root) {
    auto nl = RtNetlink::open();
    if (!nl) return nl.error();
    NetworkSnapshot s;
    s.taken_at = boottime_seconds();
    if (auto r = dump_into(*nl, RTM_GETLINK, sizeof(struct ifinfomsg), "RTM_GETLINK", parse_link, s.links); !r) return r.error();
    if (auto r = dump_into(*nl, RTM_GETADDR, sizeof(struct ifaddrmsg), "RTM_GETADDR", parse_address, s.addresses); !r)
        return r.error();
    std::vector<NetRoute> routes;
    if (auto r = dump_into(*nl, RTM_GETROUTE, sizeof(struct rtmsg), "RTM_GETROUTE", parse_route, routes); !r) return r.error();
    for (auto& r : routes)
        if (is_configuration(r)) s.routes.push_back(std::move(r));
    if (auto r = dump_into(*nl, RTM_GETRULE, sizeof(struct fib_rule_hdr), "RTM_GETRULE", parse_rule, s.rules); !r)
        return r.error();
    s.sysctls = read_sysctls(sysctl_root, s.links);
    return s;
}

RestorePlan plan_restore(const NetworkSnapshot& before, const NetworkSnapshot& now) {
    RestorePlan p;
    for (const auto& l : before.links) {
        const NetLink* n = now.link(l.index);
        if ((l.flags & IFF_UP) && n && !(n->flags & IFF_UP)) p.links_up.push_back(&l);
    }
    std::set<std::string> present;
    for (const auto& a : now.addresses) present.insert(a.key());
    for (const auto& a : before.addresses)
        if (!present.count(a.key()) && now.link(a.index)) p.addresses.push_back(&a);
    present.clear();
    for (const auto& r : now.routes) present.insert(r.key());
    for (const auto& r : before.routes)
        if (!present.count(r.key()) && (r.oif == 0 || now.link(r.oif)) && !(r.table == RT_TABLE_LOCAL && follows_an_address(r)))
            p.routes.push_back(&r);
    // Gateways first: a route through a gateway needs the route to it.
    std::stable_sort(p.routes.begin(), p.routes.end(),
                     [](const NetRoute* a, const NetRoute* b) { return a->gateway.empty() && !b->gateway.empty(); });
    present.clear();
    for (const auto& r : now.rules) present.insert(r.key());
    for (const auto& r : before.rules)
        if (!present.count(r.key())) p.rules.push_back(&r);
    for (const auto& s : before.sysctls) {
        auto it = std::find_if(now.sysctls.begin(), now.sysctls.end(), [&](const NetSysctl& n) { return n.name == s.name; });
        if (it != now.sysctls.end() && it->value != s.value) p.sysctls.push_back(&s);
    }
    return p;
}

Result<std::vector<std::string>> restore_network(const NetworkSnapshot& before, const std::string& sysctl_root) {
    auto now = snapshot_network(sysctl_root);
    if (!now) return now.error();
    auto nl = RtNetlink::open();
    if (!nl) return nl.error();
    const RestorePlan plan = plan_restore(before, *now);
    std::vector<std::string> done;
    for (const NetLink* l : plan.links_up) {
        NlMessage m;
        m.type = RTM_NEWLINK;
        struct ifinfomsg h {};
        h.ifi_family = AF_UNSPEC;
        h.ifi_index = l->index;
        h.ifi_flags = IFF_UP;
        h.ifi_change = IFF_UP;
        m.header = bytes_of(h);
        if (auto s = nl->request(m, "RTM_NEWLINK " + l->name + " up"); !s) return s.error();
        done.push_back("link " + l->name + " up");
    }
    // sysctls before addresses: forwarding and accept_ra decide what the
    // kernel does with IPv6 addresses and advertisements.
    for (const NetSysctl* s : plan.sysctls) {
        if (auto w = write_file(sysctl_root + "/" + s->name, s->value + "\n", O_WRONLY | O_TRUNC, 0); !w) return w.error();
        done.push_back("sysctl net/" + s->name + " = " + s->value);
    }
    for (const NetAddress* a : plan.addresses) {
        auto s = nl->request(address_request(*a, kForever, kForever, NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWADDR " + before.describe(*a));
        if (!s && s.error().err != EEXIST) return s.error();
        if (s) done.push_back("address " + before.describe(*a));
    }
    // Each route has its turn again once another went in: a gateway's
    // route may come later in the table than what goes through it.
    std::vector<const NetRoute*> pending = plan.routes;
    std::vector<std::string> refused;
    for (int pass = 0; pass < 3 && !pending.empty(); ++pass) {
        std::vector<const NetRoute*> again;
        refused.clear();
        for (const NetRoute* r : pending) {
            auto s = nl->request(route_request(*r, 0, NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWROUTE " + before.describe(*r));
            if (s) {
                done.push_back("route " + before.describe(*r));
            } else if (s.error().err != EEXIST) {
                again.push_back(r);
                refused.push_back(s.error().message());
            }
        }
        if (again.empty()) break;
        pending = std::move(again);
        // A link just set up has no IPv6 link-local route for a second or
        // so (DAD): gateways through it are refused until then.
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    for (const auto& r : refused) done.push_back("NOT restored: " + r);
    for (const NetRule* r : plan.rules) {
        NlMessage m = r->message;
        m.flags = NLM_F_CREATE | NLM_F_EXCL;
        auto s = nl->request(m, "RTM_NEWRULE " + before.describe(*r));
        if (!s && s.error().err != EEXIST) return s.error();
        if (s) done.push_back(before.describe(*r));
    }
    return done;
}

Result<std::vector<std::string>> freeze_lifetimes(const std::string& sysctl_root) {
    auto now = snapshot_network(sysctl_root);
    if (!now) return now.error();
    auto nl = RtNetlink::open();
    if (!nl) return nl.error();
    std::vector<std::string> done;
    for (const auto& a : now->addresses) {
        if (a.forever() || is_privacy_address(a)) continue;
        // A refusal leaves the address as it is, lease and all: said, not
        // fatal (undoing enter for it would cost more than the lease).
        if (auto s = nl->request(address_request(a, kForever, kForever, NLM_F_REPLACE), "RTM_NEWADDR " + now->describe(a)); !s) {
            done.push_back("NOT frozen (it may expire while DETACHED): " + s.error().message());
            continue;
        }
        done.push_back("address " + now->describe(a) + " -> forever");
    }
    for (const auto& r : now->routes) {
        if (r.expires == 0 || follows_an_address(r)) continue;
        if (r.protocol == RTPROT_RA && kernel_processes_ra(sysctl_root, now->interface_name(r.oif))) continue;
        // What the kernel still refuses is left as it is, and said.
        if (auto s = nl->request(route_request(r, 0, NLM_F_CREATE | NLM_F_REPLACE), "RTM_NEWROUTE " + now->describe(r)); !s) {
            done.push_back("NOT frozen (it may expire while DETACHED): " + s.error().message());
            continue;
        }
        done.push_back("route " + now->describe(r) + " -> permanent");
    }
    return done;
}

Result<std::vector<std::string>> thaw_lifetimes(const NetworkSnapshot& before, uint32_t floor_seconds) {
    NetworkSnapshot now;
    {
        auto nl = RtNetlink::open();
        if (!nl) return nl.error();
        if (auto r = dump_into(*nl, RTM_GETLINK, sizeof(struct ifinfomsg), "RTM_GETLINK", parse_link, now.links); !r) return r.error();
        if (auto r = dump_into(*nl, RTM_GETADDR, sizeof(struct ifaddrmsg), "RTM_GETADDR", parse_address, now.addresses); !r)
            return r.error();
        if (auto r = dump_into(*nl, RTM_GETROUTE, sizeof(struct rtmsg), "RTM_GETROUTE", parse_route, now.routes); !r)
            return r.error();
    }
    auto nl = RtNetlink::open();
    if (!nl) return nl.error();
    std::vector<std::string> done;
    for (const auto& a : before.addresses) {
        if (a.forever() || is_privacy_address(a)) continue;
        const std::string ifname = before.interface_name(a.index);
        if (std::find(before.keep_forever.begin(), before.keep_forever.end(), ifname) != before.keep_forever.end()) continue;
        auto it = std::find_if(now.addresses.begin(), now.addresses.end(), [&](const NetAddress& n) { return n.key() == a.key(); });
        // Gone, or given a lifetime by its client already: not ours any more.
        if (it == now.addresses.end() || !it->forever()) continue;
        const uint32_t valid = std::max(a.valid, floor_seconds), preferred = std::max(a.preferred, floor_seconds);
        if (auto s = nl->request(address_request(*it, valid, preferred, NLM_F_REPLACE), "RTM_NEWADDR " + now.describe(*it)); !s)
            return s.error().context("giving an address its lifetime back");
        done.push_back("address " + now.describe(*it) + " -> valid " + std::to_string(valid) + "s");
        // Linux (6.18 measured) gives an IPv6 prefix route an expiry in the
        // past when its address goes from an infinite lifetime to a finite
        // one: the subnet becomes unreachable. The route gets the address's
        // lifetime here.
        if (a.family != AF_INET6 || (a.flags & IFA_F_NOPREFIXROUTE)) continue;
        const std::string subnet = prefix_text(a.family, a.local, a.prefix);
        for (const auto& r : now.routes) {
            if (r.family != AF_INET6 || r.table != RT_TABLE_MAIN || !follows_an_address(r) || r.oif != a.index ||
                r.dst_len != a.prefix || r.dst != subnet)
                continue;
            if (auto s = nl->request(route_request(r, valid, NLM_F_CREATE | NLM_F_REPLACE), "RTM_NEWROUTE " + now.describe(r)); !s)
                return s.error().context("giving a prefix route its address's lifetime");
        }
    }
    for (const auto& r : before.routes) {
        if (r.expires == 0 || follows_an_address(r)) continue;
        auto it = std::find_if(now.routes.begin(), now.routes.end(), [&](const NetRoute& n) { return n.key() == r.key(); });
        if (it == now.routes.end() || it->expires != 0) continue;
        const uint32_t expires = std::max(r.expires, floor_seconds);
        if (auto s = nl->request(route_request(*it, expires, NLM_F_CREATE | NLM_F_REPLACE), "RTM_NEWROUTE " + now.describe(*it)); !s)
            return s.error().context("giving a route its lifetime back");
        done.push_back("route " + now.describe(*it) + " -> expires " + std::to_string(expires) + "s");
    }
    return done;
}

Result<PeerPath> path_to(const std::string& peer) {
    int family = 0;
    auto bytes = address_bytes(peer, &family);
    if (!bytes) return bytes.error();
    auto nl = RtNetlink::open();
    if (!nl) return nl.error();
    NlMessage q;
    q.type = RTM_GETROUTE;
    struct rtmsg h {};
    h.rtm_family = static_cast<unsigned char>(family);
    h.rtm_dst_len = family == AF_INET ? 32 : 128;
    q.header = bytes_of(h);
    q.set(RTA_DST, *bytes);
    auto answer = nl->query(q, sizeof(struct rtmsg), "RTM_GETROUTE to " + peer);
    if (!answer) return answer.error();
    auto route = parse_route(*answer);
    if (!route) return route.error();
    if (route->type != RTN_UNICAST && route->type != RTN_LOCAL)
        return plain_error("the kernel's route to " + peer + " is of type " + std::to_string(route->type) + ", not unicast");
    PeerPath p;
    std::vector<NetLink> links;
    if (auto r = dump_into(*nl, RTM_GETLINK, sizeof(struct ifinfomsg), "RTM_GETLINK", parse_link, links); !r) return r.error();
    for (const auto& l : links) {
        if (l.index != route->oif) continue;
        p.interface = l.name;
        p.kind = l.kind;
    }
    return p;
}

Status verify_network(const NetworkSnapshot& before, const std::string& peer) {
    NetworkSnapshot now;
    {
        auto nl = RtNetlink::open();
        if (!nl) return nl.error();
        if (auto r = dump_into(*nl, RTM_GETLINK, sizeof(struct ifinfomsg), "RTM_GETLINK", parse_link, now.links); !r) return r.error();
        if (auto r = dump_into(*nl, RTM_GETROUTE, sizeof(struct rtmsg), "RTM_GETROUTE", parse_route, now.routes); !r)
            return r.error();
    }
    std::set<std::string> present;
    for (const auto& r : now.routes) present.insert(r.key());
    std::string missing;
    // A default route through an interface that went away with its daemon
    // (wg-quick's table 51820) cannot come back; the route to the admin
    // below says whether that matters.
    for (const auto& r : before.routes)
        if (r.is_default() && r.type == RTN_UNICAST && (r.oif == 0 || now.link(r.oif)) && !present.count(r.key()))
            missing += "\n  - " + before.describe(r);
    if (!missing.empty())
        return plain_error("the default routes are not all back after the restore:" + missing,
                           "see the restore-network lines of the log; nothing was changed on the disk");
    if (!peer.empty()) {
        auto p = path_to(peer);
        if (!p) return p.error().context("no route to the admin's address " + peer);
    }
    return {};
}

std::optional<std::string> vanishing_interface_reason(const PeerPath& path) {
    if (path.kind == "wireguard") return "a WireGuard interface, whose configuration (wg-quick, networkd) is stopped by enter";
    if (path.kind == "tun") return "a tun/tap interface, made and served by a daemon on the disk (OpenVPN, Tailscale, ZeroTier)";
    for (const char* prefix : {"tailscale", "wg", "tun", "tap", "zt"})
        if (path.interface.rfind(prefix, 0) == 0 && path.kind.empty())
            return "an interface whose name (" + std::string(prefix) + "*) says it belongs to a VPN daemon on the disk";
    return std::nullopt;
}

std::string ssh_connection_peer(const char* ssh_connection) {
    if (ssh_connection == nullptr) return {};
    auto fields = split_fields(ssh_connection, " ");
    if (fields.size() < 4) return {};
    std::string peer(fields[0]);
    // An IPv4 client on an IPv6 socket: ::ffff:10.0.2.2.
    if (peer.rfind("::ffff:", 0) == 0 && peer.find('.') != std::string::npos) peer = peer.substr(7);
    return address_bytes(peer) ? peer : std::string();
}

std::string serialize(const NetworkSnapshot& s) {
    char taken[32];
    std::snprintf(taken, sizeof taken, "%.3f", s.taken_at);
    std::string out = "# offroot network record: the kernel's messages as dumped at enter, in hex\n";
    out += "taken-at " + std::string(taken) + "\n";
    for (const auto& l : s.links) out += "link " + to_hex(l.message.encode(0)) + " # " + l.name + "\n";
    for (const auto& a : s.addresses) out += "address " + to_hex(a.message.encode(0)) + " # " + s.describe(a) + "\n";
    for (const auto& r : s.routes) out += "route " + to_hex(r.message.encode(0)) + " # " + s.describe(r) + "\n";
    for (const auto& r : s.rules) out += "rule " + to_hex(r.message.encode(0)) + " # " + s.describe(r) + "\n";
    for (const auto& c : s.sysctls) out += "sysctl " + c.name + " " + c.value + "\n";
    for (const auto& k : s.keep_forever) out += "keep-forever " + k + "\n";
    return out;
}

namespace {

template <typename T, typename Parse>
Status parse_record_message(std::string_view hex, size_t header_size, Parse parse, std::vector<T>& out, size_t line) {
    auto bytes = from_hex(hex);
    if (!bytes) return bytes.error().context("line " + std::to_string(line));
    auto messages = decode_messages(*bytes, header_size);
    if (!messages || messages->size() != 1) return plain_error("line " + std::to_string(line) + ": not one netlink message");
    auto parsed = parse(messages->front());
    if (!parsed) return parsed.error().context("line " + std::to_string(line));
    out.push_back(std::move(*parsed));
    return {};
}

}  // namespace

Result<NetworkSnapshot> parse_network_record(std::string_view text) {
    NetworkSnapshot s;
    size_t n = 0;
    for (std::string_view line : split_lines(text)) {
        ++n;
        std::string_view rest = line;
        std::string_view kind = next_field(rest, " ");
        std::string_view value = next_field(rest, " ");
        if (kind.empty() || kind[0] == '#') continue;
        Status st;
        if (kind == "taken-at") {
            s.taken_at = std::strtod(std::string(value).c_str(), nullptr);
        } else if (kind == "link") {
            st = parse_record_message(value, sizeof(struct ifinfomsg), parse_link, s.links, n);
        } else if (kind == "address") {
            st = parse_record_message(value, sizeof(struct ifaddrmsg), parse_address, s.addresses, n);
        } else if (kind == "route") {
            st = parse_record_message(value, sizeof(struct rtmsg), parse_route, s.routes, n);
        } else if (kind == "rule") {
            st = parse_record_message(value, sizeof(struct fib_rule_hdr), parse_rule, s.rules, n);
        } else if (kind == "sysctl") {
            s.sysctls.push_back(NetSysctl{std::string(value), std::string(next_field(rest, " "))});
        } else if (kind == "keep-forever") {
            s.keep_forever.emplace_back(value);
        } else {
            return plain_error("line " + std::to_string(n) + ": unknown record " + quoted(std::string(kind)));
        }
        if (!st) return st.error().context("the network record");
    }
    return s;
}

}  // namespace offroot
