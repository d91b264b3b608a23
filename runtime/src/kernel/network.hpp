// The network must outlive `offroot enter`: the admin is connected through
// it. Daemons that manage addresses (systemd-networkd, dhclient) remove them
// when they stop, so the kernel's addresses and routes are recorded before
// anything stops and whatever went away is put back afterwards. busybox's
// ip (in rootfs) does the reading and writing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct AddressEntry {
    std::string interface;
    std::string family;  // "inet" or "inet6"
    std::string cidr;    // 10.0.2.15/24
    bool operator==(const AddressEntry&) const = default;
};

struct NetworkSnapshot {
    std::vector<AddressEntry> addresses;  // global scope, not loopback
    std::vector<std::string> routes;      // `ip route show` lines (IPv4 main table)
};

// Pure parsers of `ip -o addr show` and `ip route show`.
std::vector<AddressEntry> parse_ip_addresses(std::string_view text);
std::vector<std::string> parse_ip_routes(std::string_view text);

Result<NetworkSnapshot> snapshot_network();

// Re-adds the addresses and routes of `before` that are missing now.
// Returns what it restored, one line each, for the log.
Result<std::vector<std::string>> restore_network(const NetworkSnapshot& before);

std::string serialize(const NetworkSnapshot& snapshot);

}  // namespace offroot
