// check's refusal of a root offroot cannot free (issue 9 part 3): on the
// network or FUSE, or zfs; a local disk's filesystem is no blocker.
#include "catch.hpp"

#include <string>

#include "system/holders.hpp"

using namespace offroot;

namespace {

std::string only_blocker(const std::string& fs_type, const std::string& source) {
    auto blockers = root_filesystem_blockers(fs_type, source);
    REQUIRE(blockers.size() == 1);
    return blockers[0];
}

}  // namespace

TEST_CASE("a root on the network, on FUSE or on zfs is refused with the reason", "[check]") {
    const auto nfs = only_blocker("nfs4", "filer:/export/root");
    CHECK(nfs.find("the root filesystem is nfs4 (filer:/export/root)") == 0);
    CHECK(nfs.find("not on a local disk") != std::string::npos);
    for (const char* type : {"nfs", "cifs", "smb3", "ceph", "glusterfs", "9p", "fuse.sshfs", "fuseblk"})
        CHECK(only_blocker(type, "x").find(std::string("the root filesystem is ") + type) == 0);
    const auto zfs = only_blocker("zfs", "rpool/ROOT/debian");
    CHECK(zfs.find("the root filesystem is zfs (rpool/ROOT/debian)") == 0);
    CHECK(zfs.find("rescue system") != std::string::npos);
}

TEST_CASE("a root on a local disk's filesystem is no blocker", "[check]") {
    for (const char* type : {"ext4", "xfs", "btrfs", "ext3", "f2fs", "jfs"})
        CHECK(root_filesystem_blockers(type, "/dev/vda1").empty());
}
