// The network must outlive `offroot enter`: the admin is connected through
// it. Daemons that manage addresses (systemd-networkd, dhclient) remove them
// when they stop, and an address or route with a lifetime runs out once its
// daemon is gone. So enter records the kernel's whole configuration (links,
// IPv4 and IPv6 addresses, the routes of every table, policy rules, the
// sysctls that decide forwarding and router advertisements) before anything
// stops, puts back what went away, and makes every lifetime infinite while
// DETACHED; return gives the lifetimes back for the init's own network
// configuration to take over. Spoken over rtnetlink (kernel/netlink.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "kernel/netlink.hpp"

namespace offroot {

inline constexpr uint32_t kForever = 0xFFFFFFFFu;

struct NetLink {
    NlMessage message;
    int index = 0;
    std::string name;
    unsigned flags = 0;  // IFF_UP, ...
    std::string kind;    // IFLA_INFO_KIND: "veth", "wireguard", "tun", ""
};

struct NetAddress {
    NlMessage message;
    int family = 0;
    int index = 0;
    int prefix = 0;
    uint8_t scope = 0;
    uint32_t flags = 0;  // IFA_F_*, from IFA_FLAGS when present
    std::string local;   // text: 10.0.2.15, 2001:db8::5
    std::string peer;    // IFA_ADDRESS when it differs from IFA_LOCAL (point-to-point)
    uint32_t valid = kForever, preferred = kForever;  // seconds left
    // (family, interface, address, prefix): what the kernel keys on.
    std::string key() const;
    bool forever() const { return valid == kForever; }
};

struct NetRoute {
    NlMessage message;
    int family = 0;
    uint32_t table = 0;
    uint8_t dst_len = 0, tos = 0, protocol = 0, scope = 0, type = 0;
    uint32_t flags = 0;  // rtm_flags: RTNH_F_ONLINK, RTM_F_CLONED
    std::string dst, gateway, prefsrc;
    int oif = 0;
    uint32_t priority = 0;
    uint32_t expires = 0;  // seconds left, 0 = none (IPv6, RTA_CACHEINFO)
    uint32_t nh_id = 0;    // RTA_NH_ID: through a nexthop object (`ip nexthop`), 0 = none
    std::string key() const;
    bool is_default() const { return dst_len == 0; }
};

struct NetRule {
    NlMessage message;
    int family = 0;
    uint32_t priority = 0;
    uint32_t table = 0;
    std::string key() const;  // the whole rule: header and attributes
};

struct NetSysctl {
    std::string name;  // below /proc/sys/net: "ipv6/conf/ens3/accept_ra"
    std::string value;
};

struct NetworkSnapshot {
    double taken_at = 0;  // CLOCK_BOOTTIME seconds
    std::vector<NetLink> links;
    std::vector<NetAddress> addresses;
    std::vector<NetRoute> routes;
    std::vector<NetRule> rules;
    std::vector<NetSysctl> sysctls;
    // Interfaces whose addresses keep an infinite lifetime after return,
    // until their DHCP client's first renewal: dhclient's script adds the
    // address when it starts (the kernel says EEXIST and the lifetime stays)
    // and gives it the lease's lifetime only on RENEW (`ip -4 addr change`),
    // half a lease later; a shorter lifetime could run out before that.
    std::vector<std::string> keep_forever;

    const NetLink* link(int index) const;
    const NetLink* link(const std::string& name) const;
    std::string interface_name(int index) const;
    std::string describe(const NetAddress& a) const;
    std::string describe(const NetRoute& r) const;
    std::string describe(const NetRule& r) const;
};

// The parsers of the kernel's messages (pure, for tests).
Result<NetLink> parse_link(const NlMessage& m);
Result<NetAddress> parse_address(const NlMessage& m);
Result<NetRoute> parse_route(const NlMessage& m);
Result<NetRule> parse_rule(const NlMessage& m);
std::string address_text(int family, std::string_view bytes);
Result<std::string> address_bytes(const std::string& text, int* family = nullptr);
// The network of an address: prefix_text(AF_INET6, "2001:db8::5", 64) == "2001:db8::".
std::string prefix_text(int family, const std::string& address, int prefix);
// A dumped route as RTM_NEWROUTE takes it back, with `expires` seconds
// (0: none) and the netlink `flags` (NLM_F_CREATE, _REPLACE, _EXCL).
NlMessage route_request(const NetRoute& r, uint32_t expires, uint16_t flags);
// A dumped address as RTM_NEWADDR takes it back, with the given lifetimes
// and netlink `flags`. It keeps the address's origin (IFA_PROTO: kernel_ra
// for SLAAC, kernel_ll, ...): a replace without it makes it 0, and the
// address no longer reads as the kernel's own after return.
NlMessage address_request(const NetAddress& a, uint32_t valid, uint32_t preferred, uint16_t flags);

// What enter writes to RAM and return reads back.
std::string serialize(const NetworkSnapshot& snapshot);
Result<NetworkSnapshot> parse_network_record(std::string_view text);

// `sysctl_root` is /proc/sys/net (tests point it elsewhere).
Result<NetworkSnapshot> snapshot_network(const std::string& sysctl_root = "/proc/sys/net");

// What is in `before` and missing from `now`, in the order it is put back.
struct RestorePlan {
    std::vector<const NetLink*> links_up;
    std::vector<const NetAddress*> addresses;
    std::vector<const NetRoute*> routes;
    std::vector<const NetRule*> rules;
    std::vector<const NetSysctl*> sysctls;
};
RestorePlan plan_restore(const NetworkSnapshot& before, const NetworkSnapshot& now);

// Puts back what went away; one line each for the log. A route that the
// kernel refuses is reported and the rest go on: verify_network judges.
Result<std::vector<std::string>> restore_network(const NetworkSnapshot& before,
                                                 const std::string& sysctl_root = "/proc/sys/net");

// Every address and route with a finite lifetime gets an infinite one
// (kernel SLAAC routes that the kernel itself refreshes aside). Returns what
// changed.
Result<std::vector<std::string>> freeze_lifetimes(const std::string& sysctl_root = "/proc/sys/net");

// The lifetime each address and route had in `before`, at least
// `floor_seconds`, for those that are still infinite now; the init's
// clients renew from there.
Result<std::vector<std::string>> thaw_lifetimes(const NetworkSnapshot& before, uint32_t floor_seconds);

// The default routes of `before` are there, and the kernel has a route to
// `peer` (the admin's address; empty: not checked). The error says what is
// missing.
Status verify_network(const NetworkSnapshot& before, const std::string& peer);

// The interface the kernel would send to `peer` through.
struct PeerPath {
    std::string interface;
    std::string kind;
};
Result<PeerPath> path_to(const std::string& peer);

// "wireguard", "tun" (tun/tap: OpenVPN, Tailscale, ZeroTier) and the names
// they use: these live in a daemon on the disk, or in its configuration,
// and go away with it.
std::optional<std::string> vanishing_interface_reason(const PeerPath& path);

// SSH_CONNECTION's first field ("client port server port").
std::string ssh_connection_peer(const char* ssh_connection);

}  // namespace offroot
