// The programs that hold DHCP leases and router advertisements for the
// kernel, and how enter stops each without losing what it holds.
//
// What each does when it is stopped (tests/ns/network-dhcp.sh measures the
// first two against a real dnsmasq):
// - dhclient (isc-dhcp-client 4.4.3, ifupdown's default): SIGTERM exits
//   without a DHCPRELEASE and without running its script: the address
//   stays with the lease's lifetime (dhclient-script sets valid_lft) and
//   runs out, nobody renewing it. `ifdown` runs `dhclient -r`: a DHCPRELEASE
//   and the address flushed (script reason RELEASE).
// - dhcpcd (9.4, dhcpcd-base): SIGTERM removes the addresses it set, without
//   a DHCPRELEASE (unless configured with `release`); `ifdown` runs
//   `dhcpcd -k`: a DHCPRELEASE.
// - systemd-networkd: on stop it drops its DHCP addresses and sends a
//   DHCPRELEASE (SendRelease=yes, KeepConfiguration=no by default;
//   KeepConfiguration=dhcp-on-stop would keep them).
// - NetworkManager leaves the interfaces configured when it quits, but with
//   the lease's lifetimes, which then run out.
// SIGKILL runs none of that. ifdown does not run during enter: isolate keeps
// networking.service (the detached target wants it) and ifup@.service is
// IgnoreOnIsolate=yes; sysvinit's networking script is never stopped. PID 1
// restarts nothing once it is the stub; before that a unit may stop a
// dhclient or dhcpcd (dhcpcd.service, an rc script): those are killed
// before the services stop. networkd and NetworkManager stay (the target
// wants them) until enter kills what is left, and get SIGKILL there. The
// addresses' lifetimes are made infinite afterwards (kernel/network.hpp).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "kernel/processes.hpp"

namespace offroot {

enum class DhcpClientKind { dhclient, dhcpcd, networkd, network_manager };
std::string to_string(DhcpClientKind kind);

struct DhcpClient {
    DhcpClientKind kind;
    pid_t pid = 0;
    pid_t ppid = 0;
    std::vector<std::string> argv;
};

// The command line to start a client again with: its own, except where the
// client wrote over it. dhcpcd (9 and later, privilege separation) does:
// /proc/PID/cmdline reads "dhcpcd: [privileged proxy] ens3 [ip4] [ip6]",
// its state, not its arguments, and that string executes nothing. Its
// words then give `EXE [-4|-6] INTERFACE...`: the interfaces it serves (the
// words not in brackets) and -4 or -6 when it serves one family only.
std::vector<std::string> dhcp_client_argv(DhcpClientKind kind, const std::string& exe,
                                          const std::vector<std::string>& cmdline);

// Recognised by the executable's name (comm as a fallback: exe is unreadable
// for processes of other namespaces); argv as dhcp_client_argv gives it.
std::vector<DhcpClient> find_dhcp_clients(const std::vector<Process>& processes);

// The dhclient and dhcpcd processes that no NetworkManager runs: what
// enter kills before the services stop.
std::vector<DhcpClient> standalone_clients(const std::vector<DhcpClient>& clients);

// The words of one client's command line (past argv[0]) that name one of
// `interfaces`, each once.
std::vector<std::string> client_interfaces(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& interfaces);

// The words of the clients' command lines that name one of `interfaces`
// (dhclient ... ens3): the interfaces whose addresses a dhclient holds.
std::vector<std::string> dhclient_interfaces(const std::vector<DhcpClient>& clients,
                                             const std::vector<std::string>& interfaces);

// SIGKILL, then waits (up to 5 s) until each is gone. Names what survived.
Status kill_clients(const std::vector<DhcpClient>& clients);

// A client enter killed, as its record keeps it for the undo and for
// recover: written before the kill (its command line read from
// /proc/PID/cmdline while it ran), removed once NORMAL is reached. Nobody
// else starts these again: networking.service and the rc script are never
// stopped, so ifup does not run. systemd-networkd and NetworkManager are
// not recorded: the init starts them again with the units.
struct KilledClient {
    DhcpClientKind kind = DhcpClientKind::dhclient;
    // The interfaces its command line names (none: it serves all of them).
    std::vector<std::string> interfaces;
    std::vector<std::string> argv;  // exact, argv[0] included
};
// One record per client: a CLIENT= line (dhclient or dhcpcd), then its
// IFACE= and ARG= lines; in the values "\\" stands for a backslash and
// "\n" for a newline.
std::string serialize_killed_clients(const std::vector<KilledClient>& clients);
Result<std::vector<KilledClient>> parse_killed_clients(std::string_view text);
// The interfaces of the clients the record at `record_path` names; `all`
// when one of them served every interface, or the record does not parse
// (then which interfaces a killed client held is not known). No record, or
// none that can be read: none.
struct KilledClientInterfaces {
    std::vector<std::string> names;
    bool all = false;
};
KilledClientInterfaces killed_client_interfaces(const std::string& record_path);
// One per client whose command line could be read (an empty one cannot be
// started again), and only the first of a family: dhcpcd's proxies are its
// own children, which it forks again when it starts.
std::vector<KilledClient> killed_client_records(const std::vector<DhcpClient>& clients,
                                                const std::vector<std::string>& interfaces);

// Whether a client of the same kind runs for one of its interfaces (for
// any interface, when it names none): then it is not started twice.
bool runs_already(const KilledClient& killed, const std::vector<DhcpClient>& running);

// The undo of hold-dhcp-leases, in enter and in recover: each client of
// the record at `record_path` that does not run already is started again
// with its own command line, detached, inside `real_root`; then the record
// goes. A missing or malformed record: a warning naming it, nothing
// started. `who` leads the log lines ("enter", "recover").
Status restart_killed_clients(const std::string& record_path, const std::string& real_root, const std::string& who);

}  // namespace offroot
