#include "catch.hpp"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/files.hpp"
#include "kernel/unix_sockets.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;

namespace {

std::string sample(const std::string& name) { return sample_text("proc/" + name); }

const UnixSocket* by_inode(const std::vector<UnixSocket>& all, ino_t inode) {
    auto it = std::find_if(all.begin(), all.end(), [&](const UnixSocket& s) { return s.inode == inode; });
    return it == all.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("/proc/net/unix: bound, abstract and unbound sockets", "[unix_sockets]") {
    auto all = parse_proc_net_unix(sample("net_unix"));
    REQUIRE(all.ok());
    REQUIRE(all->size() == 9);

    // Inode narrower than its %5lu column: two blanks before it.
    CHECK((*all)[0].inode == 1119);
    CHECK((*all)[0].path.empty());
    CHECK_FALSE((*all)[0].abstract);

    const UnixSocket* bound = by_inode(*all, 22180);
    REQUIRE(bound != nullptr);
    CHECK(bound->path == "/tmp/offroot sample/my sock");
    CHECK_FALSE(bound->abstract);

    const UnixSocket* x11 = by_inode(*all, 22184);
    REQUIRE(x11 != nullptr);
    CHECK(x11->path == "@/tmp/.X11-unix/X0");
    CHECK(x11->abstract);

    // A NUL inside an abstract name is printed as '@'.
    const UnixSocket* nul = by_inode(*all, 22181);
    REQUIRE(nul != nullptr);
    CHECK(nul->path == "@offroot-test@x");
    CHECK(nul->abstract);

    for (ino_t pair : {ino_t{22182}, ino_t{22183}}) {
        const UnixSocket* s = by_inode(*all, pair);
        REQUIRE(s != nullptr);
        CHECK(s->path.empty());
        CHECK_FALSE(s->abstract);
    }
}

TEST_CASE("/proc/net/unix: names are taken verbatim to the end of the line", "[unix_sockets]") {
    auto all = parse_proc_net_unix(
        "0000000000000000: 00000002 00000000 00010000 0001 01 123456  leading blank\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 123457 /run/a  b \n");
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    CHECK((*all)[0].inode == 123456);
    CHECK((*all)[0].path == " leading blank");
    CHECK((*all)[1].path == "/run/a  b ");
}

TEST_CASE("/proc/net/unix: malformed lines are errors", "[unix_sockets]") {
    CHECK_FALSE(parse_proc_net_unix("Num       RefCount Protocol Flags    Type St Inode Path\n"
                                    "0000000000000000: 00000002 00000000\n")
                    .ok());
    CHECK_FALSE(parse_proc_net_unix("0000000000000000: 00000002 00000000 00010000 0001 01 12a /x\n").ok());
    auto empty = parse_proc_net_unix("Num       RefCount Protocol Flags    Type St Inode Path\n");
    REQUIRE(empty.ok());
    CHECK(empty->empty());
}

TEST_CASE("read_unix_sockets finds a socket we bound", "[unix_sockets]") {
    TempDir dir;
    const std::string path = dir / "a sock";

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.valid());
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    struct sockaddr* sa = reinterpret_cast<struct sockaddr*>(&addr);
    REQUIRE(::bind(fd.get(), sa, sizeof addr) == 0);
    struct stat st {};
    REQUIRE(::fstat(fd.get(), &st) == 0);

    auto all = read_unix_sockets();
    REQUIRE(all.ok());
    const UnixSocket* s = by_inode(*all, st.st_ino);
    REQUIRE(s != nullptr);
    CHECK(s->path == path);
    CHECK_FALSE(s->abstract);

    auto missing = read_unix_sockets("/nonexistent-offroot/unix");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().err == ENOENT);
}
