#include "transitions/network_steps.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cstdlib>

#include "base/files.hpp"
#include "base/log.hpp"
#include "system/dhcp_clients.hpp"

namespace offroot {
namespace {

// What a DHCP client has, at least, to renew once the init starts it again
// (return) or enter's undo did: seconds.
constexpr uint32_t kThawFloorSeconds = 300;

Status write_record(const NetworkSnapshot& s, const std::string& path) {
    return write_file(path, serialize(s), O_CREAT | O_TRUNC | O_WRONLY, 0600);
}

}  // namespace

Result<NetworkSnapshot> snapshot_network_step(const std::string& record_path) {
    auto s = snapshot_network();
    if (!s) return s.error().context("recording the network");
    if (auto w = write_record(*s, record_path); !w) return w.error();
    log_info("enter: network recorded: " + std::to_string(s->links.size()) + " links, " +
             std::to_string(s->addresses.size()) + " addresses, " + std::to_string(s->routes.size()) + " routes, " +
             std::to_string(s->rules.size()) + " rules");
    return s;
}

Status hold_dhcp_leases_step(NetworkSnapshot& snapshot, const std::string& record_path,
                             const std::string& clients_record_path, const std::string& real_root, UndoStack& undo) {
    auto processes = scan_processes(ScanOptions{.proc = "/proc", .with_files = false});
    if (!processes) return processes.error();
    const auto clients = find_dhcp_clients(*processes);
    std::vector<std::string> names;
    for (const auto& l : snapshot.links) names.push_back(l.name);
    snapshot.keep_forever = dhclient_interfaces(clients, names);
    if (auto w = write_record(snapshot, record_path); !w) return w.error();
    for (const auto& c : clients)
        log_info("enter: DHCP client " + to_string(c.kind) + " (pid " + std::to_string(c.pid) + ")");
    const auto standalone = standalone_clients(clients);
    // Before the kill, even when there is none to kill: recover reads it
    // once this step began, and its command lines can only be read while
    // the clients run. The undo comes with it, for a kill that fails half-way.
    if (auto w = replace_file(clients_record_path, serialize_killed_clients(killed_client_records(standalone, names)), 0600);
        !w)
        return w.error().context("recording the DHCP clients to kill");
    for (const auto& c : standalone)
        if (c.argv.empty())
            log_warning("enter: the command line of " + to_string(c.kind) + " (pid " + std::to_string(c.pid) +
                        ") is unreadable: neither enter's undo nor recover can start it again; the init's "
                        "configuration (ifup) must");
    undo.push("hold-dhcp-leases",
              [clients_record_path, real_root]() { return restart_killed_clients(clients_record_path, real_root, "enter"); });
    if (standalone.empty()) return {};
    if (auto s = kill_clients(standalone); !s) return s.error().context("stopping the DHCP clients without a release");
    for (const auto& c : standalone)
        log_info("enter: SIGKILLed " + to_string(c.kind) + " (pid " + std::to_string(c.pid) +
                 "): its lease stays with the kernel, unreleased");
    return {};
}

Status kill_network_daemons(const std::vector<Process>& processes, const std::vector<pid_t>& victims) {
    std::vector<DhcpClient> doomed;
    for (const auto& c : find_dhcp_clients(processes))
        if (std::find(victims.begin(), victims.end(), c.pid) != victims.end()) doomed.push_back(c);
    if (doomed.empty()) return {};
    for (const auto& c : doomed)
        log_info("enter: SIGKILL " + to_string(c.kind) + " (pid " + std::to_string(c.pid) + "): no release, no flush");
    return kill_clients(doomed);
}

Status restore_network_step(const NetworkSnapshot& snapshot, const std::string& peer, UndoStack& undo) {
    auto restored = restore_network(snapshot);
    if (!restored) return restored.error().context("restoring the network");
    for (const auto& r : *restored) log_info("enter: restored " + r);
    // Registered first: a freeze that fails half-way is given back too.
    undo.push("freeze-lifetimes", [snapshot]() -> Status {
        auto t = thaw_lifetimes(snapshot, kThawFloorSeconds);
        if (!t) return t.error();
        return {};
    });
    auto frozen = freeze_lifetimes();
    if (!frozen) return frozen.error();
    for (const auto& f : *frozen) {
        if (f.rfind("NOT ", 0) == 0) {
            log_warning("enter: " + f);
        } else {
            log_info("enter: " + f);
        }
    }
    if (auto v = verify_network(snapshot, peer); !v) return v;
    log_info("enter: the default routes are back" + (peer.empty() ? std::string(" (no SSH_CONNECTION: the admin's route unchecked)")
                                                                  : ", and the route to the admin's " + peer));
    return {};
}

void thaw_network_step(const std::string& record_path) {
    auto text = read_file(record_path);
    if (!text) {
        log_warning("return: no network record (" + text.error().message() + "): lifetimes left as they are");
        return;
    }
    auto snapshot = parse_network_record(*text);
    if (!snapshot) {
        log_warning("return: " + snapshot.error().message());
        return;
    }
    auto thawed = thaw_lifetimes(*snapshot, kThawFloorSeconds);
    if (!thawed) {
        log_warning("return: giving the lifetimes back: " + thawed.error().message());
        return;
    }
    for (const auto& t : *thawed) log_info("return: " + t);
}

std::string admin_peer() { return ssh_connection_peer(std::getenv("SSH_CONNECTION")); }

}  // namespace offroot
