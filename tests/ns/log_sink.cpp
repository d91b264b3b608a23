// The namespace test's stand-ins (tests/ns/journal-import.sh):
//   ns-log-sink listen SOCKET DIR   binds an AF_UNIX datagram socket at
//                                   SOCKET, as journald and syslog do, and
//                                   writes each datagram to DIR/1, DIR/2, ...
//                                   (DIR/ready once bound) until SIGTERM
//   ns-log-sink kmsg-next           the sequence number the kernel's next
//                                   /dev/kmsg record will get
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/files.hpp"
#include "system/journal_import.hpp"

using namespace offroot;

namespace {

int die(const std::string& what) {
    std::fprintf(stderr, "ns-log-sink: %s: %s\n", what.c_str(), std::strerror(errno));
    return 1;
}

int listen_and_keep(const std::string& path, const std::string& dir) {
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return die("socket");
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return die("path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    if (::bind(fd, reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr) != 0) return die("bind " + path);
    if (!write_file(dir + "/ready", "", O_CREAT | O_TRUNC, 0644)) return die("ready");
    static char buf[256 * 1024];
    for (unsigned n = 1;; ++n) {
        const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return die("recv");
        }
        if (!write_file(dir + "/" + std::to_string(n), std::string(buf, static_cast<size_t>(got)), O_CREAT | O_EXCL, 0644))
            return die("write");
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "listen" && argc == 4) return listen_and_keep(argv[2], argv[3]);
    if (mode == "kmsg-next" && argc == 2) {
        auto next = next_kmsg_seq();
        if (!next) {
            std::fprintf(stderr, "ns-log-sink: %s\n", next.error().message().c_str());
            return 1;
        }
        std::printf("%llu\n", static_cast<unsigned long long>(*next));
        return 0;
    }
    std::fprintf(stderr, "usage: ns-log-sink listen SOCKET DIR | kmsg-next\n");
    return 2;
}
