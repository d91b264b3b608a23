#include "system/dhcp_clients.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <thread>

#include "base/files.hpp"
#include "base/log.hpp"
#include "base/subprocess.hpp"

namespace offroot {
namespace {

std::string base_name(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::optional<DhcpClientKind> kind_of(const Process& p) {
    std::string name = base_name(p.exe);
    if (name.empty()) name = p.stat.comm;
    // comm is cut at 15 characters: systemd-network.
    if (name == "dhclient") return DhcpClientKind::dhclient;
    if (name == "dhcpcd") return DhcpClientKind::dhcpcd;
    if (name == "systemd-networkd" || name == "systemd-network") return DhcpClientKind::networkd;
    if (name == "NetworkManager") return DhcpClientKind::network_manager;
    return std::nullopt;
}

// A client in another network namespace (a container's) holds none of
// this host's addresses.
bool in_our_network_namespace(pid_t pid) {
    auto ours = stat_path("/proc/self/ns/net");
    auto theirs = stat_path("/proc/" + std::to_string(pid) + "/ns/net");
    return ours && theirs && same_inode(*ours, *theirs);
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::string to_string(DhcpClientKind kind) {
    switch (kind) {
        case DhcpClientKind::dhclient: return "dhclient";
        case DhcpClientKind::dhcpcd: return "dhcpcd";
        case DhcpClientKind::networkd: return "systemd-networkd";
        case DhcpClientKind::network_manager: return "NetworkManager";
    }
    return "?";
}

std::vector<DhcpClient> find_dhcp_clients(const std::vector<Process>& processes) {
    std::vector<DhcpClient> out;
    for (const auto& p : processes) {
        if (p.kernel_thread) continue;
        auto kind = kind_of(p);
        if (kind && in_our_network_namespace(p.stat.pid)) out.push_back(DhcpClient{*kind, p.stat.pid, p.stat.ppid, p.cmdline});
    }
    return out;
}

std::vector<DhcpClient> standalone_clients(const std::vector<DhcpClient>& clients) {
    std::vector<pid_t> managers;
    for (const auto& c : clients)
        if (c.kind == DhcpClientKind::network_manager) managers.push_back(c.pid);
    std::vector<DhcpClient> out;
    for (const auto& c : clients) {
        if (c.kind != DhcpClientKind::dhclient && c.kind != DhcpClientKind::dhcpcd) continue;
        // NetworkManager restarts a DHCP client it runs: killed with it.
        if (std::find(managers.begin(), managers.end(), c.ppid) != managers.end()) continue;
        out.push_back(c);
    }
    return out;
}

std::vector<std::string> dhclient_interfaces(const std::vector<DhcpClient>& clients,
                                             const std::vector<std::string>& interfaces) {
    std::vector<std::string> out;
    for (const auto& c : clients) {
        if (c.kind != DhcpClientKind::dhclient) continue;
        for (size_t i = 1; i < c.argv.size(); ++i)
            if (std::find(interfaces.begin(), interfaces.end(), c.argv[i]) != interfaces.end() &&
                std::find(out.begin(), out.end(), c.argv[i]) == out.end())
                out.push_back(c.argv[i]);
    }
    return out;
}

Status kill_clients(const std::vector<DhcpClient>& clients) {
    for (const auto& c : clients) {
        if (::kill(c.pid, SIGKILL) != 0 && errno != ESRCH)
            return sys_error("kill(" + std::to_string(c.pid) + " (" + to_string(c.kind) + "), SIGKILL)");
    }
    for (int i = 0; i < 50; ++i) {
        if (std::none_of(clients.begin(), clients.end(), [](const DhcpClient& c) { return alive(c.pid); })) return {};
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string left;
    for (const auto& c : clients)
        if (alive(c.pid)) left += " " + std::to_string(c.pid) + " (" + to_string(c.kind) + ")";
    return plain_error("DHCP clients survived SIGKILL for 5 s:" + left);
}

Status restart_clients(const std::vector<DhcpClient>& clients, const std::string& real_root) {
    std::string failed;
    for (const auto& c : clients) {
        if (c.argv.empty()) continue;
        Command cmd{c.argv, real_root, 60};
        auto r = run_command(cmd);
        if (!r || !r->ok()) failed += "\n  " + describe(cmd) + ": " + (r ? r->output : r.error().message());
        else log_info("restarted " + describe(cmd));
    }
    if (!failed.empty()) return plain_error("could not start the DHCP clients again:" + failed, "start them by hand (ifup, systemctl)");
    return {};
}

}  // namespace offroot
