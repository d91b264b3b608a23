#include "catch.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/files.hpp"
#include "system/udev_db.hpp"
#include "test_support.hpp"

using namespace offroot;
namespace fs = std::filesystem;

TEST_CASE("udev's database goes into the fresh /run: data, tags and links, never its socket", "[return][udev]") {
    test::TempDir dir("offroot-udev");
    const std::string from = dir.path() + "/old-run", to = dir.path() + "/new-run";
    fs::create_directories(from + "/udev/data");
    fs::create_directories(from + "/udev/tags/systemd");
    std::ofstream(from + "/udev/data/b253:1") << "S:mapper/vg0-var\nE:DM_NAME=vg0-var\nE:SYSTEMD_READY=1\n";
    std::ofstream(from + "/udev/tags/systemd/b253:1");
    fs::create_symlink("/dev/dm-1", from + "/udev/watch-1");
    int sock = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    REQUIRE(sock >= 0);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    const std::string control = from + "/udev/control";
    REQUIRE(control.size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, control.c_str(), control.size() + 1);
    REQUIRE(::bind(sock, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0);
    fs::create_directories(to);

    REQUIRE(carry_udev_database(from, to));
    auto data = read_file(to + "/udev/data/b253:1");
    REQUIRE(data);
    CHECK(data->find("SYSTEMD_READY=1") != std::string::npos);
    CHECK(fs::exists(to + "/udev/tags/systemd/b253:1"));
    CHECK(fs::is_symlink(to + "/udev/watch-1"));
    CHECK_FALSE(fs::exists(fs::symlink_status(to + "/udev/control")));
    ::close(sock);

    // No database (a system without udev): nothing to do, no error.
    CHECK(carry_udev_database(dir.path() + "/nothing", to));
}
