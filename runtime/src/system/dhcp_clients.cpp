#include "system/dhcp_clients.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <thread>

#include "base/files.hpp"
#include "base/log.hpp"
#include "base/subprocess.hpp"
#include "base/text.hpp"

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

// Only the two enter kills and starts again.
std::optional<DhcpClientKind> restartable_kind(std::string_view name) {
    if (name == "dhclient") return DhcpClientKind::dhclient;
    if (name == "dhcpcd") return DhcpClientKind::dhcpcd;
    return std::nullopt;
}

// A record's values are one line each: backslash and newline escaped.
std::string escaped(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

Result<std::string> unescaped(std::string_view value) {
    std::string out;
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] != '\\') {
            out += value[i];
            continue;
        }
        if (i + 1 < value.size() && value[i + 1] == '\\') out += '\\';
        else if (i + 1 < value.size() && value[i + 1] == 'n') out += '\n';
        else return plain_error("a backslash that escapes neither a backslash nor n: " + quoted(std::string(value)));
        ++i;
    }
    return out;
}

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

std::vector<std::string> dhcp_client_argv(DhcpClientKind kind, const std::string& exe,
                                          const std::vector<std::string>& cmdline) {
    std::string title;
    for (const auto& word : cmdline) title += (title.empty() ? "" : " ") + word;
    if (kind != DhcpClientKind::dhcpcd || title.rfind("dhcpcd:", 0) != 0) return cmdline;
    std::vector<std::string> argv{exe.empty() ? std::string("dhcpcd") : exe};
    bool ip4 = false, ip6 = false;
    std::vector<std::string> interfaces;
    for (auto word : split_fields(std::string_view(title).substr(7), " ")) {
        if (word == "[ip4]") ip4 = true;
        else if (word == "[ip6]") ip6 = true;
        else if (word.front() != '[' && word.back() != ']') interfaces.emplace_back(word);
    }
    // "[privileged proxy]" and the like are two words: both bracketed at one end.
    if (ip4 && !ip6) argv.push_back("-4");
    if (ip6 && !ip4) argv.push_back("-6");
    argv.insert(argv.end(), interfaces.begin(), interfaces.end());
    return argv;
}

std::vector<DhcpClient> find_dhcp_clients(const std::vector<Process>& processes) {
    std::vector<DhcpClient> out;
    for (const auto& p : processes) {
        if (p.kernel_thread) continue;
        auto kind = kind_of(p);
        if (kind && in_our_network_namespace(p.stat.pid))
            out.push_back(DhcpClient{*kind, p.stat.pid, p.stat.ppid, dhcp_client_argv(*kind, p.exe, p.cmdline)});
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

std::vector<std::string> client_interfaces(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& interfaces) {
    std::vector<std::string> out;
    for (size_t i = 1; i < argv.size(); ++i)
        if (std::find(interfaces.begin(), interfaces.end(), argv[i]) != interfaces.end() &&
            std::find(out.begin(), out.end(), argv[i]) == out.end())
            out.push_back(argv[i]);
    return out;
}

std::vector<std::string> dhclient_interfaces(const std::vector<DhcpClient>& clients,
                                             const std::vector<std::string>& interfaces) {
    std::vector<std::string> out;
    for (const auto& c : clients) {
        if (c.kind != DhcpClientKind::dhclient) continue;
        for (const auto& name : client_interfaces(c.argv, interfaces))
            if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
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

std::string serialize_killed_clients(const std::vector<KilledClient>& clients) {
    std::string out;
    for (const auto& c : clients) {
        out += "CLIENT=" + to_string(c.kind) + "\n";
        for (const auto& i : c.interfaces) out += "IFACE=" + escaped(i) + "\n";
        for (const auto& a : c.argv) out += "ARG=" + escaped(a) + "\n";
    }
    return out;
}

Result<std::vector<KilledClient>> parse_killed_clients(std::string_view text) {
    std::vector<KilledClient> out;
    const auto lines = split_lines(text);
    auto complete = [&out]() { return out.empty() || !out.back().argv.empty(); };
    for (size_t n = 0; n < lines.size(); ++n) {
        const std::string_view line = lines[n];
        if (line.empty()) continue;
        const std::string where = "line " + std::to_string(n + 1) + ": ";
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) return plain_error(where + "no KEY=value: " + quoted(std::string(line)));
        const std::string_view key = line.substr(0, eq);
        auto value = unescaped(line.substr(eq + 1));
        if (!value) return plain_error(where + value.error().message());
        if (key == "CLIENT") {
            if (!complete()) return plain_error(where + "the client before has no ARG= line");
            auto kind = restartable_kind(*value);
            if (!kind) return plain_error(where + "not a DHCP client enter kills: " + offroot::quoted(*value));
            out.push_back(KilledClient{*kind, {}, {}});
        } else if (key == "IFACE" || key == "ARG") {
            if (out.empty()) return plain_error(where + std::string(key) + "= before any CLIENT=");
            (key == "IFACE" ? out.back().interfaces : out.back().argv).push_back(*value);
        } else {
            return plain_error(where + "unknown key " + quoted(std::string(key)));
        }
    }
    if (!complete()) return plain_error("the last client has no ARG= line");
    return out;
}

std::vector<KilledClient> killed_client_records(const std::vector<DhcpClient>& clients,
                                                const std::vector<std::string>& interfaces) {
    std::vector<KilledClient> out;
    auto forked_by_another = [&clients](const DhcpClient& c) {
        return std::any_of(clients.begin(), clients.end(),
                           [&c](const DhcpClient& o) { return o.kind == c.kind && o.pid == c.ppid; });
    };
    for (const auto& c : clients)
        if (!c.argv.empty() && !forked_by_another(c))
            out.push_back(KilledClient{c.kind, client_interfaces(c.argv, interfaces), c.argv});
    return out;
}

bool runs_already(const KilledClient& killed, const std::vector<DhcpClient>& running) {
    return std::any_of(running.begin(), running.end(), [&killed](const DhcpClient& r) {
        if (r.kind != killed.kind) return false;
        if (killed.interfaces.empty()) return true;
        return !client_interfaces(r.argv, killed.interfaces).empty();
    });
}

KilledClientInterfaces killed_client_interfaces(const std::string& record_path) {
    KilledClientInterfaces out;
    auto text = read_file(record_path);
    if (!text) return out;
    auto killed = parse_killed_clients(*text);
    if (!killed) {
        out.all = true;
        return out;
    }
    for (const auto& client : *killed) {
        if (client.interfaces.empty()) out.all = true;
        out.names.insert(out.names.end(), client.interfaces.begin(), client.interfaces.end());
    }
    return out;
}

Status restart_killed_clients(const std::string& record_path, const std::string& real_root, const std::string& who) {
    const std::string by_hand = "start them through the init if needed (ifdown and ifup the interface)";
    auto text = read_file(record_path);
    if (!text) {
        log_warning(who + ": no record of the DHCP clients enter killed (" + text.error().message() +
                    "): none started again; " + by_hand);
        return {};
    }
    auto killed = parse_killed_clients(*text);
    if (!killed) {
        log_warning(who + ": the record of the DHCP clients enter killed, " + quoted(record_path) +
                    ", is malformed (" + killed.error().message() + "): none started again, the record is left to "
                    "read; " + by_hand);
        return {};
    }
    auto processes = scan_processes(ScanOptions{.proc = "/proc", .with_files = false});
    if (!processes) return processes.error().context("looking for the DHCP clients that run already");
    const auto running = find_dhcp_clients(*processes);
    std::string failed;
    for (const auto& k : *killed) {
        const Command cmd{k.argv, real_root};
        if (runs_already(k, running)) {
            log_info(who + ": " + to_string(k.kind) + " runs already" +
                     (k.interfaces.empty() ? std::string() : " for " + join(k.interfaces, " ")) +
                     ": not started again (" + describe(cmd) + ")");
            continue;
        }
        if (auto started = start_detached(cmd); !started) {
            failed += "\n  " + describe(cmd) + ": " + started.error().message();
        } else {
            log_info(who + ": started " + to_string(k.kind) + " again: " + describe(cmd));
        }
    }
    if (::unlink(record_path.c_str()) != 0 && errno != ENOENT) return sys_error("unlink(" + quoted(record_path) + ")");
    if (!failed.empty()) return plain_error("could not start the DHCP clients enter killed again:" + failed, by_hand);
    return {};
}

}  // namespace offroot
