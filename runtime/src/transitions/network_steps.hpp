// The network's part of enter and return (kernel/network.hpp,
// system/dhcp_clients.hpp), as the steps of plan.cpp name them.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/undo.hpp"
#include "kernel/network.hpp"
#include "kernel/processes.hpp"

namespace offroot {

// snapshot-network: the kernel's configuration, written to `record_path`.
// hold-dhcp-leases: the standalone DHCP clients (dhclient, dhcpcd) killed
// before any stop logic can release or flush their leases, recorded first
// at `clients_record_path`; undone by starting them again from that record
// inside `real_root` (restart_killed_clients, which recover calls too).
Result<NetworkSnapshot> snapshot_network_step(const std::string& record_path);
Status hold_dhcp_leases_step(NetworkSnapshot& snapshot, const std::string& record_path,
                             const std::string& clients_record_path, const std::string& real_root, UndoStack& undo);

// kill-leftovers' first move: networkd, NetworkManager and the clients
// they run get SIGKILL, before the others get SIGTERM.
Status kill_network_daemons(const std::vector<Process>& processes, const std::vector<pid_t>& victims);

// restore-network and verify-network: what went away put back, every
// lifetime infinite (undone: given back), then the default routes and the
// route to `peer` checked.
Status restore_network_step(const NetworkSnapshot& snapshot, const std::string& peer, UndoStack& undo);

// return's thaw-network: the lifetimes of the record at `record_path` back,
// once the real init runs; failures are logged, never fatal.
void thaw_network_step(const std::string& record_path);

// The admin's address: SSH_CONNECTION of this session, else empty.
std::string admin_peer();

}  // namespace offroot
