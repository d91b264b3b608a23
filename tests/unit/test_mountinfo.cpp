#include "catch.hpp"
#include <sys/sysmacros.h>

#include <algorithm>

#include "base/files.hpp"
#include "kernel/mountinfo.hpp"

using namespace offroot;

namespace {

MountTable sample(const std::string& name) {
    auto table = MountTable::read(std::string(OFFROOT_SAMPLES_DIR) + "/mountinfo/" + name);
    REQUIRE(table.ok());
    return std::move(table).value();
}

std::vector<std::string> points(const std::vector<const MountEntry*>& mounts) {
    std::vector<std::string> out;
    for (auto* m : mounts) out.push_back(m->mount_point + "#" + std::to_string(m->id));
    return out;
}

}  // namespace

TEST_CASE("mountinfo fields of a systemd root", "[mountinfo]") {
    auto table = sample("debian12-systemd.txt");
    REQUIRE(table.entries().size() == 21);
    const MountEntry& root = table.entries()[0];
    CHECK(root.id == 22);
    CHECK(root.parent_id == 1);
    CHECK(root.major == 254);
    CHECK(root.minor == 1);
    CHECK(root.dev() == makedev(254, 1));
    CHECK(root.root == "/");
    CHECK(root.mount_point == "/");
    CHECK(root.fs_type == "ext4");
    CHECK(root.source == "/dev/vda1");
    CHECK(root.super_options == "rw,errors=remount-ro");
    CHECK(root.shared_peer_group == 1);
    CHECK(root.is_shared());
    CHECK_FALSE(root.is_private());
    CHECK_FALSE(root.read_only());
}

TEST_CASE("mountinfo escapes and optional fields", "[mountinfo]") {
    auto table = sample("nasty.txt");
    const MountEntry* bind = table.by_id(31);
    REQUIRE(bind != nullptr);
    CHECK(bind->root == "/srv/data");
    CHECK(bind->mount_point == "/root/mnt/my disk");
    CHECK(bind->shared_peer_group == 40);
    CHECK(bind->master_peer_group == 1);
    CHECK(bind->propagate_from == 1);

    const MountEntry* odd = table.by_id(32);
    REQUIRE(odd != nullptr);
    CHECK(odd->mount_point == "/root/odd\ttab\nnewline\\back");
    CHECK(odd->source == "tmp fs");
    CHECK(odd->unbindable);
    CHECK_FALSE(odd->is_private());

    const MountEntry* slave = table.by_id(30);
    REQUIRE(slave != nullptr);
    CHECK(slave->is_slave());
    CHECK_FALSE(slave->is_shared());

    const MountEntry* future = table.by_id(37);
    REQUIRE(future != nullptr);
    CHECK(future->fs_type == "fuse.sshfs");
    CHECK(future->shared_peer_group == 9);

    const MountEntry* nosuper = table.by_id(38);
    REQUIRE(nosuper != nullptr);
    CHECK(nosuper->source == "none");
    CHECK(nosuper->super_options.empty());

    CHECK(table.by_id(1)->is_private());
}

TEST_CASE("unescape_octal leaves incomplete escapes alone", "[mountinfo]") {
    CHECK(unescape_octal("a\\040b") == "a b");
    CHECK(unescape_octal("a\\04") == "a\\04");
    CHECK(unescape_octal("a\\08x") == "a\\08x");
    CHECK(unescape_octal("\\134") == "\\");
    CHECK(unescape_octal("end\\") == "end\\");
}

TEST_CASE("malformed mountinfo lines are errors naming the line", "[mountinfo]") {
    auto short_line = parse_mountinfo_line("22 1 254:1 / /");
    REQUIRE_FALSE(short_line.ok());
    CHECK(short_line.error().message().find("fewer than 9 fields") != std::string::npos);

    auto no_separator = parse_mountinfo_line("22 1 254:1 / / rw shared:1 ext4 /dev/vda1 rw x y");
    REQUIRE_FALSE(no_separator.ok());
    CHECK(no_separator.error().message().find("no separator") != std::string::npos);

    auto bad_dev = parse_mountinfo_line("22 1 254 / / rw - ext4 /dev/vda1 rw x");
    REQUIRE_FALSE(bad_dev.ok());
    CHECK(bad_dev.error().message().find("major:minor") != std::string::npos);

    CHECK_FALSE(MountTable::parse("22 1 254:1 / / rw - ext4 /dev/vda1 rw\ngarbage\n").ok());
}

TEST_CASE("mount_of picks the longest prefix and the top of a stack", "[mountinfo]") {
    auto table = sample("nasty.txt");
    CHECK(table.mount_of("/root/stack/file")->id == 35);
    CHECK(table.mount_of("/root/stack")->id == 35);
    CHECK(table.mount_of("/root/stack/inner/x")->id == 36);
    CHECK(table.mount_of("/root/stackx")->id == 30);
    CHECK(table.mount_of("/etc")->id == 1);
    CHECK(table.mount_of("/root/mnt/my disk/a")->id == 31);

    // The same stack listed top first must give the same answer.
    std::vector<MountEntry> reversed = table.entries();
    std::reverse(reversed.begin(), reversed.end());
    MountTable rev(reversed);
    CHECK(rev.mount_of("/root/stack/file")->id == 35);
}

TEST_CASE("parent_of and mounts_under", "[mountinfo]") {
    auto table = sample("debian12-systemd.txt");
    const MountEntry* pts = table.by_id(20);
    REQUIRE(table.parent_of(*pts)->mount_point == "/dev");
    CHECK(table.parent_of(*table.by_id(22)) == nullptr);  // parent 1 is outside our root

    CHECK(points(table.mounts_under("/dev")) ==
          std::vector<std::string>{"/dev#19", "/dev/pts#20", "/dev/shm#26", "/dev/mqueue#32", "/dev/hugepages#33"});
    CHECK(table.mounts_under("/").size() == 21);
    CHECK(table.mounts_under("/de").empty());
    CHECK(table.mounts_of_device(makedev(254, 1)).size() == 1);
}

TEST_CASE("unmount order is children first by depth, not reverse table order", "[mountinfo]") {
    auto table = sample("initramfs-moved.txt");
    auto order = points(table.unmount_order("/"));
    // Reverse table order would put "/" (id 24) before /sys, /proc, /dev, /run.
    REQUIRE(order.size() == 7);
    CHECK(order.back() == "/#24");
    auto pos = [&](const std::string& p) { return std::find(order.begin(), order.end(), p) - order.begin(); };
    CHECK(pos("/sys/kernel/security#25") < pos("/sys#18"));
    CHECK(pos("/dev/pts#21") < pos("/dev#20"));
}

TEST_CASE("unmount order takes a stack from the top", "[mountinfo]") {
    auto table = sample("nasty.txt");
    auto order = points(table.unmount_order("/root/stack"));
    CHECK(order == std::vector<std::string>{"/root/stack/inner#36", "/root/stack#35", "/root/stack#34", "/root/stack#33"});
}

TEST_CASE("path helpers", "[mountinfo]") {
    CHECK(path_is_under("/a/b", "/a"));
    CHECK(path_is_under("/a", "/a"));
    CHECK_FALSE(path_is_under("/ab", "/a"));
    CHECK(path_is_under("/anything", "/"));
    CHECK(path_depth("/") == 0);
    CHECK(path_depth("/a//b/") == 2);
}

TEST_CASE("the live mount table parses", "[mountinfo]") {
    auto table = MountTable::read();
    REQUIRE(table.ok());
    auto root_st = stat_path("/");
    REQUIRE(root_st.ok());
    const MountEntry* root = table->mount_of("/");
    REQUIRE(root != nullptr);
    CHECK(root->mount_point == "/");
}

TEST_CASE("a root that is itself a bind of a subvolume, with binds of the same filesystem", "[mountinfo]") {
    auto table = sample("btrfs-subvolume-root.txt");
    const MountEntry* root = table.mount_of("/");
    REQUIRE(root != nullptr);
    CHECK(root->id == 25);
    CHECK(root->root == "/@rootfs");
    CHECK(table.mount_of("/srv/data/x")->root == "/@rootfs/var/lib/data");
    // Every mount of the filesystem, the root's own bind included.
    CHECK(table.mounts_of_device(root->dev()).size() == 3);
    auto order = points(table.unmount_order("/"));
    CHECK(order.back() == "/#25");
    CHECK(order.size() == 4);
}

TEST_CASE("kernel interfaces are told from filesystems that hold data", "[mountinfo]") {
    CHECK(is_kernel_interface_fs("proc"));
    CHECK(is_kernel_interface_fs("cgroup2"));
    CHECK(is_kernel_interface_fs("devpts"));
    CHECK_FALSE(is_kernel_interface_fs("tmpfs"));
    CHECK_FALSE(is_kernel_interface_fs("ext4"));
    CHECK_FALSE(is_kernel_interface_fs("fuse.sshfs"));
}
