// Finding the binds of offroot-init that an interrupted enter left over the
// init's binary (system/emergency.hpp): by the stub's device and inode.
#include "catch.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "system/emergency.hpp"
#include "test_support.hpp"

using namespace offroot;
using offroot::test::TempDir;
using offroot::test::write_text;

TEST_CASE("stub binds: a mount of the stub's device whose path leads to the stub", "[stub-binds]") {
    TempDir dir;
    // A hard link plays the bind: its path leads to the stub's inode.
    write_text(dir.path() + "/usr/lib/offroot/offroot", "stub");
    write_text(dir.path() + "/sbin/init.real", "init");
    REQUIRE(::mkdir((dir.path() + "/lib").c_str(), 0755) == 0);
    REQUIRE(::link((dir.path() + "/usr/lib/offroot/offroot").c_str(), (dir.path() + "/lib/init").c_str()) == 0);
    struct stat stub {};
    REQUIRE(::stat((dir.path() + "/usr/lib/offroot/offroot").c_str(), &stub) == 0);
    const std::string dev = std::to_string(major(stub.st_dev)) + ":" + std::to_string(minor(stub.st_dev));
    const std::string other = std::to_string(major(stub.st_dev) + 1) + ":0";
    write_text(dir.path() + "/mountinfo",
               // The environment itself: holds the stub, binds nothing.
               "20 1 " + dev + " / / rw - tmpfs rootfs rw\n"
               // The stub bound over the init's binary.
               "30 20 " + dev + " /usr/lib/offroot/offroot /lib/init rw - tmpfs rootfs rw\n"
               // The same device, a path that leads elsewhere.
               "31 20 " + dev + " /sbin/init.real /sbin/init.real rw - tmpfs rootfs rw\n"
               // Another device at the stub's path.
               "32 20 " + other + " /x /lib/init rw - ext4 /dev/vda1 rw\n");
    auto binds = stub_binds(RealRootView{dir.path(), dir.path() + "/mountinfo"}, stub);
    REQUIRE(binds.ok());
    CHECK(*binds == std::vector<std::string>{"/lib/init"});

    write_text(dir.path() + "/mountinfo", "20 1 " + dev + " / / rw - tmpfs rootfs rw\n");
    auto none = stub_binds(RealRootView{dir.path(), dir.path() + "/mountinfo"}, stub);
    REQUIRE(none.ok());
    CHECK(none->empty());

    auto unreadable = stub_binds(RealRootView{dir.path(), dir.path() + "/no-such-mountinfo"}, stub);
    CHECK_FALSE(unreadable.ok());
}
