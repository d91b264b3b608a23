#include "kernel/network.hpp"

#include <algorithm>

#include "base/subprocess.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

// `ip -o` folds a record's lines into one with a backslash: it separates
// words as a blank does.
std::vector<std::string_view> words(std::string_view line) { return split_fields(line, " \t\\"); }

Result<std::string> ip(const std::vector<std::string>& args) {
    Command c;
    c.argv = {"ip"};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    c.timeout_seconds = 20;
    auto r = run_command(c);
    if (!r) return r.error();
    if (!r->ok()) return plain_error(describe(c) + " failed: " + r->output);
    return r->output;
}

}  // namespace

std::vector<AddressEntry> parse_ip_addresses(std::string_view text) {
    std::vector<AddressEntry> out;
    for (std::string_view line : split_lines(text)) {
        auto w = words(line);
        // "2: ens3    inet 10.0.2.15/24 brd ... scope global dynamic ens3"
        if (w.size() < 4 || (w[2] != "inet" && w[2] != "inet6")) continue;
        std::string iface(w[1]);
        if (!iface.empty() && iface.back() == ':') iface.pop_back();
        if (iface == "lo") continue;
        auto scope = std::find(w.begin(), w.end(), "scope");
        if (scope != w.end() && scope + 1 != w.end() && *(scope + 1) != "global") continue;
        out.push_back(AddressEntry{iface, std::string(w[2]), std::string(w[3])});
    }
    return out;
}

std::vector<std::string> parse_ip_routes(std::string_view text) {
    std::vector<std::string> out;
    for (std::string_view line : split_lines(text)) {
        std::string l(line);
        while (!l.empty() && (l.back() == ' ' || l.back() == '\r')) l.pop_back();
        if (!l.empty()) out.push_back(l);
    }
    return out;
}

Result<NetworkSnapshot> snapshot_network() {
    NetworkSnapshot s;
    auto addrs = ip({"-o", "addr", "show"});
    if (!addrs) return addrs.error();
    s.addresses = parse_ip_addresses(*addrs);
    auto routes = ip({"route", "show"});
    if (!routes) return routes.error();
    s.routes = parse_ip_routes(*routes);
    return s;
}

Result<std::vector<std::string>> restore_network(const NetworkSnapshot& before) {
    auto now = snapshot_network();
    if (!now) return now.error();
    std::vector<std::string> restored;
    for (const auto& a : before.addresses) {
        if (std::find(now->addresses.begin(), now->addresses.end(), a) != now->addresses.end()) continue;
        std::vector<std::string> args = {a.family == "inet6" ? "-6" : "-4", "addr", "add", a.cidr, "dev", a.interface};
        if (auto r = ip(args); !r) return r.error();
        restored.push_back("address " + a.cidr + " on " + a.interface);
    }
    // Routes need their addresses: after them, and each tried once.
    auto routes_now = ip({"route", "show"});
    std::vector<std::string> present = routes_now ? parse_ip_routes(*routes_now) : std::vector<std::string>{};
    for (const auto& route : before.routes) {
        if (std::find(present.begin(), present.end(), route) != present.end()) continue;
        std::vector<std::string> args = {"route", "add"};
        for (std::string_view w : words(route)) {
            if (w == "linkdown") continue;  // a state, not a parameter
            args.emplace_back(w);
        }
        auto r = ip(args);
        // The kernel re-creates a prefix route with its address: "exists" is fine.
        if (!r && r.error().message().find("File exists") == std::string::npos) return r.error();
        if (r) restored.push_back("route " + route);
    }
    return restored;
}

std::string serialize(const NetworkSnapshot& s) {
    std::string out;
    for (const auto& a : s.addresses) out += "address " + a.interface + " " + a.family + " " + a.cidr + "\n";
    for (const auto& r : s.routes) out += "route " + r + "\n";
    return out;
}

}  // namespace offroot
