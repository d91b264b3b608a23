// Who listens on a TCP port, from /proc/net/tcp and /proc/net/tcp6: how
// `offroot status` tells that sshd is back on port 22 after a return,
// without connecting to it (a connection would start an sshd session and
// leave a line in the host's auth log at every status).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace offroot {

// One of the tables (the header line, then "sl: local remote st ...",
// local as HEXADDR:HEXPORT, st 0A for LISTEN) has a socket in LISTEN on
// `port`, on any address. Lines that do not parse are passed over.
bool table_listens_on(std::string_view proc_net_tcp, uint16_t port);

// Either table of this network namespace, read through `prefix` (a way into
// the emergency environment, "" for our own /proc). A missing tcp6 (IPv6
// disabled) is not an error.
Result<bool> tcp_port_listening(uint16_t port, const std::string& prefix = "");

}  // namespace offroot
