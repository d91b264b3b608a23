#include "catch.hpp"

#include "base/subprocess.hpp"
#include "transitions/transition.hpp"

using namespace offroot;

TEST_CASE("return --fsck: a clean or corrected filesystem goes on, anything else stops", "[return]") {
    CHECK(fsck_verdict("e2fsck -p /dev/vda1", 0, "/dev/vda1"));
    CHECK(fsck_verdict("e2fsck -p /dev/vda1", 1, "/dev/vda1"));
    auto uncorrected = fsck_verdict("e2fsck -p /dev/vda1", 4, "/dev/vda1");
    REQUIRE_FALSE(uncorrected);
    CHECK(uncorrected.error().message().find("exited with status 4") != std::string::npos);
    auto killed = fsck_verdict("e2fsck -p /dev/vda1", -1, "/dev/vda1");
    REQUIRE_FALSE(killed);
    CHECK(killed.error().message().find("did not finish") != std::string::npos);
}

TEST_CASE("a command killed by a signal has no exit status: -1, never a pass", "[return][subprocess]") {
    auto r = run_command(Command{{"sh", "-c", "kill -KILL $$"}, "", 10});
    REQUIRE(r);
    CHECK(r->exit_status == -1);
    CHECK_FALSE(r->ok());
    auto slow = run_command(Command{{"sleep", "30"}, "", 1});
    REQUIRE(slow);
    CHECK(slow->exit_status == -1);
    CHECK_FALSE(fsck_verdict("sleep 30", slow->exit_status, "/dev/vda1"));
}

TEST_CASE("the root comes back with the options it had: rootflags=, a btrfs subvolume", "[return]") {
    CHECK(root_mount_data("", "ext4", "/").empty());
    CHECK(root_mount_data("data=journal", "ext4", "/") == "data=journal");
    // The Debian installer's btrfs root: rootflags=subvol=@rootfs on the
    // command line, or only fstab's subvol= (the mount's root says it).
    CHECK(root_mount_data("subvol=@rootfs", "btrfs", "/@rootfs") == "subvol=@rootfs");
    CHECK(root_mount_data("", "btrfs", "/@rootfs") == "subvol=/@rootfs");
    CHECK(root_mount_data("compress=zstd", "btrfs", "/@rootfs") == "compress=zstd,subvol=/@rootfs");
    CHECK(root_mount_data("subvolid=256", "btrfs", "/@rootfs") == "subvolid=256");
    CHECK(root_mount_data("", "btrfs", "/").empty());
    // Only btrfs names a subvolume: another filesystem's non-"/" root is a
    // bind, which the initramfs never makes.
    CHECK(root_mount_data("", "xfs", "/srv").empty());
}
