// The network steps of enter and return, one at a time, for the namespace
// tests (tests/ns/network-*.sh): the library's code, on the real kernel of a
// network namespace.
//
// usage: ns-network-tool snapshot FILE | show | restore FILE | freeze |
//        thaw FILE FLOOR | verify FILE [PEER] | path PEER | hold FILE
#include <fcntl.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/files.hpp"
#include "kernel/network.hpp"
#include "kernel/processes.hpp"
#include "system/dhcp_clients.hpp"

using namespace offroot;

namespace {

int fail(const Error& e) {
    std::fprintf(stderr, "ns-network-tool: %s\n", e.message().c_str());
    return 1;
}

int print_lines(const Result<std::vector<std::string>>& r) {
    if (!r) return fail(r.error());
    for (const auto& l : *r) std::printf("%s\n", l.c_str());
    return 0;
}

Result<NetworkSnapshot> load(const char* path) {
    auto text = read_file(path);
    if (!text) return text.error();
    return parse_network_record(*text);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: ns-network-tool snapshot FILE | show | restore FILE | freeze | thaw FILE FLOOR | "
                             "verify FILE [PEER] | path PEER | hold FILE\n");
        return 2;
    }
    const std::string cmd = argv[1];
    if (cmd == "snapshot" && argc == 3) {
        auto s = snapshot_network();
        if (!s) return fail(s.error());
        if (auto w = write_file(argv[2], serialize(*s), O_CREAT | O_TRUNC | O_WRONLY, 0600); !w) return fail(w.error());
        return 0;
    }
    if (cmd == "show") {
        auto s = snapshot_network();
        if (!s) return fail(s.error());
        for (const auto& a : s->addresses) std::printf("address %s\n", s->describe(a).c_str());
        for (const auto& r : s->routes) std::printf("route %s\n", s->describe(r).c_str());
        for (const auto& r : s->rules) std::printf("%s\n", s->describe(r).c_str());
        return 0;
    }
    if (cmd == "restore" && argc == 3) {
        auto s = load(argv[2]);
        if (!s) return fail(s.error());
        return print_lines(restore_network(*s));
    }
    if (cmd == "freeze") return print_lines(freeze_lifetimes());
    if (cmd == "thaw" && argc == 4) {
        auto s = load(argv[2]);
        if (!s) return fail(s.error());
        return print_lines(thaw_lifetimes(*s, static_cast<uint32_t>(std::atoi(argv[3]))));
    }
    if (cmd == "verify" && argc >= 3) {
        auto s = load(argv[2]);
        if (!s) return fail(s.error());
        if (auto v = verify_network(*s, argc > 3 ? argv[3] : ""); !v) return fail(v.error());
        std::printf("network verified\n");
        return 0;
    }
    if (cmd == "path" && argc == 3) {
        auto p = path_to(argv[2]);
        if (!p) return fail(p.error());
        auto why = vanishing_interface_reason(*p);
        std::printf("%s %s%s\n", p->interface.c_str(), p->kind.empty() ? "-" : p->kind.c_str(),
                    why ? (" VANISHES: " + *why).c_str() : "");
        return 0;
    }
    if (cmd == "hold" && argc == 3) {
        // hold-dhcp-leases as enter runs it: the standalone clients SIGKILLed,
        // the dhclient interfaces kept forever in the record.
        auto s = snapshot_network();
        if (!s) return fail(s.error());
        auto processes = scan_processes(ScanOptions{.proc = "/proc", .with_files = false});
        if (!processes) return fail(processes.error());
        auto clients = find_dhcp_clients(*processes);
        std::vector<std::string> names;
        for (const auto& l : s->links) names.push_back(l.name);
        s->keep_forever = dhclient_interfaces(clients, names);
        auto standalone = standalone_clients(clients);
        if (auto k = kill_clients(standalone); !k) return fail(k.error());
        for (const auto& c : standalone) std::printf("killed %s %d\n", to_string(c.kind).c_str(), c.pid);
        if (auto w = write_file(argv[2], serialize(*s), O_CREAT | O_TRUNC | O_WRONLY, 0600); !w) return fail(w.error());
        return 0;
    }
    std::fprintf(stderr, "ns-network-tool: bad arguments\n");
    return 2;
}
