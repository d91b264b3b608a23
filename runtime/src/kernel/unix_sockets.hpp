// Unix domain sockets from /proc/net/unix: which socket inode is bound to
// which path, so that a process's "socket:[N]" fd can be tied to a socket
// file on the disk (or to an abstract name that no filesystem holds).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct UnixSocket {
    ino_t inode = 0;
    // As the kernel prints it: a filesystem path, "@name" for an abstract
    // socket (NULs inside the name shown as '@'), empty when unbound.
    std::string path;
    bool abstract = false;
};

// Only the network namespace of the reader is listed.
Result<std::vector<UnixSocket>> parse_proc_net_unix(std::string_view text);
Result<std::vector<UnixSocket>> read_unix_sockets(const std::string& path = "/proc/net/unix");

}  // namespace offroot
