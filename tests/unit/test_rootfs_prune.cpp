// prune_tree and tree_usage_bytes on real directory trees. The parts that
// mount (a tmpfs, a bind mount, a ramfs) need root; without it they are
// skipped with a warning, except under CI=true where they must run.
#include "catch.hpp"
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "system/rootfs.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;
namespace fs = std::filesystem;
using Entries = std::set<std::string>;

namespace {

// Unmounts what the test mounted, newest first, even when a REQUIRE threw.
// Declared after the TempDirs, so it runs before they are removed.
class Mounts {
public:
    Mounts() = default;
    Mounts(const Mounts&) = delete;
    Mounts& operator=(const Mounts&) = delete;
    ~Mounts() {
        for (auto it = targets_.rbegin(); it != targets_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    }
    void mount(const std::string& source, const std::string& target, const char* type, unsigned long flags) {
        fs::create_directories(target);
        INFO("mount " << source << " on " << target);
        REQUIRE(::mount(source.c_str(), target.c_str(), type, flags, nullptr) == 0);
        targets_.push_back(target);
    }
    void unmount_all() {
        while (!targets_.empty()) {
            INFO("umount " << targets_.back());
            CHECK(::umount2(targets_.back().c_str(), 0) == 0);
            targets_.pop_back();
        }
    }

private:
    std::vector<std::string> targets_;
};

// Everything under root, symlinks never followed: "dir/", "file",
// "link -> target".
Entries tree(const std::string& root) {
    Entries out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        std::string rel = it->path().lexically_relative(root).string();
        if (it->is_symlink()) {
            rel += " -> " + fs::read_symlink(it->path()).string();
        } else if (it->is_directory()) {
            rel += "/";
        }
        out.insert(rel);
    }
    return out;
}

Manifest manifest(std::string_view text) {
    auto m = Manifest::parse(text);
    REQUIRE(m.ok());
    return std::move(m).value();
}

// Outside the pruned tree: what symlinks in it point at.
void build_outside(const TempDir& outside) {
    write_text(outside / "victim", "must survive");
    write_text(outside / "tool/keep-me", "must survive too");
}

void check_outside_untouched(const TempDir& outside) {
    CHECK(tree(outside.path()) == Entries{"victim", "tool/", "tool/keep-me"});
    CHECK(read_text(outside / "victim") == "must survive");
}

// An initramfs-like tree.
void build_initramfs(const TempDir& t, const TempDir& outside) {
    write_text(t / "bin/busybox", std::string(5000, 'b'));
    make_symlink("busybox", t / "bin/sh");
    write_text(t / "usr/lib/offroot/run-init", "run-init");
    write_text(t / "usr/lib/offroot/sub/deep", "deep");
    write_text(t / "usr/lib/udev/rules.d/50-test.rules", "rule");
    write_text(t / "usr/share/doc/readme", "doc");
    write_text(t / "etc/offroot/manifest", "/bin\n");
    write_text(t / "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    write_text(t / "lib/modules/6.1.0-test/kernel/big.ko", std::string(65536, 'k'));
    // Absolute symlinks out of the tree: following one would delete the
    // outside files.
    make_symlink(outside.path(), t / "lib/escape");
    make_symlink(outside / "victim", t / "outside-file");
    // A symlink where the manifest wants to descend: kept as it is.
    make_symlink(outside.path(), t / "opt");
    fs::create_directories(t / "scripts/init-bottom");
    write_text(t / "binx", "a sibling whose name starts like /bin");
    write_text(t / "init", "#!/bin/sh\n");
}

bool must_run_as_root() {
    if (::geteuid() == 0) return true;
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::strcmp(ci, "true") == 0) {
        FAIL("CI=true but not running as root: the mount-point checks of prune_tree cannot run");
    }
    WARN("not root: skipping the mount-point checks (run the unit tests as root, or set CI=true to make this fail)");
    return false;
}

}  // namespace

TEST_CASE("prune_tree keeps exactly what the manifest lists, never following symlinks", "[rootfs][prune]") {
    TempDir t;
    TempDir outside;
    build_outside(outside);
    build_initramfs(t, outside);

    auto stats = prune_tree(t.path(), manifest("/bin\n/usr/lib/offroot\n/opt/tool\n"));
    REQUIRE(stats.ok());

    CHECK(tree(t.path()) == Entries{
                                "bin/",
                                "bin/busybox",
                                "bin/sh -> busybox",
                                "usr/",
                                "usr/lib/",
                                "usr/lib/offroot/",
                                "usr/lib/offroot/run-init",
                                "usr/lib/offroot/sub/",
                                "usr/lib/offroot/sub/deep",
                                "etc/",
                                "etc/offroot/",
                                "etc/offroot/manifest",
                                "opt -> " + outside.path(),
                            });
    CHECK(read_text(t / "bin/busybox") == std::string(5000, 'b'));
    check_outside_untouched(outside);

    // kept: bin, usr, usr/lib, usr/lib/offroot, etc, etc/offroot,
    // etc/offroot/manifest, opt. removed: every entry of the removed
    // subtrees, one by one.
    CHECK(stats->kept == 8);
    CHECK(stats->removed == 18);
    CHECK(stats->skipped_mounts == 0);
    CHECK(stats->failures == 0);
}

TEST_CASE("prune_tree with an empty manifest empties the tree (the classic switch)", "[rootfs][prune]") {
    TempDir t;
    TempDir outside;
    build_outside(outside);
    build_initramfs(t, outside);

    auto stats = prune_tree(t.path(), Manifest{});
    REQUIRE(stats.ok());
    CHECK(tree(t.path()).empty());
    CHECK(fs::is_directory(t.path()));
    check_outside_untouched(outside);
    CHECK(stats->kept == 0);
    CHECK(stats->removed == 31);
    CHECK(stats->failures == 0);
}

TEST_CASE("prune_tree on a tree that needs no pruning changes nothing", "[rootfs][prune]") {
    TempDir t;
    write_text(t / "bin/busybox", "bb");
    write_text(t / "etc/offroot/manifest", "/bin\n");
    auto stats = prune_tree(t.path(), manifest("/bin\n"));
    REQUIRE(stats.ok());
    CHECK(tree(t.path()) == Entries{"bin/", "bin/busybox", "etc/", "etc/offroot/", "etc/offroot/manifest"});
    CHECK(stats->removed == 0);
    CHECK(stats->kept == 4);
}

TEST_CASE("prune_tree on a missing root is an error naming it", "[rootfs][prune]") {
    TempDir t;
    auto stats = prune_tree(t / "none", manifest("/bin\n"));
    REQUIRE_FALSE(stats.ok());
    CHECK(stats.error().message() == missing_file_message(t / "none"));
    auto usage = tree_usage_bytes(t / "none");
    REQUIRE_FALSE(usage.ok());
    CHECK(usage.error().message() == missing_file_message(t / "none"));
}

TEST_CASE("tree_usage_bytes counts at least whole pages of every file and shrinks with pruning",
          "[rootfs][usage]") {
    TempDir t;
    TempDir outside;
    build_outside(outside);
    build_initramfs(t, outside);

    auto before = tree_usage_bytes(t.path());
    REQUIRE(before.ok());
    // Whole pages at least: two for bin/busybox, sixteen for big.ko, one
    // for each of the eight small files; the filesystem may add directories.
    CHECK(*before >= (2 + 16 + 8) * 4096);

    REQUIRE(prune_tree(t.path(), manifest("/bin\n")).ok());
    auto after = tree_usage_bytes(t.path());
    REQUIRE(after.ok());
    CHECK(*after < *before);
    CHECK(*after >= (2 + 1) * 4096);  // bin/busybox and etc/offroot/manifest
}

TEST_CASE("prune_tree never crosses a mount point", "[rootfs][prune][mount][root]") {
    if (!must_run_as_root()) return;
    TempDir t;
    TempDir outside;
    build_outside(outside);
    Mounts mounts;

    write_text(t / "bin/busybox", "bb");
    // A tmpfs where the manifest keeps nothing.
    mounts.mount("offroot-test", t / "scratch", "tmpfs", 0);
    write_text(t / "scratch/inside", "on the tmpfs");
    write_text(t / "scratch/sub/deeper", "also on the tmpfs");
    // A tmpfs deeper in a directory that is removed around it.
    write_text(t / "data/file", "removable");
    mounts.mount("offroot-test", t / "data/mnt", "tmpfs", 0);
    write_text(t / "data/mnt/inside", "on the nested tmpfs");
    // A bind mount of the same filesystem: st_dev alone would not tell.
    mounts.mount(outside.path(), t / "bound", nullptr, MS_BIND);

    auto stats = prune_tree(t.path(), manifest("/bin\n"));
    REQUIRE(stats.ok());

    CHECK(tree(t.path()) == Entries{
                                "bin/",
                                "bin/busybox",
                                "scratch/",
                                "scratch/inside",
                                "scratch/sub/",
                                "scratch/sub/deeper",
                                "data/",
                                "data/mnt/",
                                "data/mnt/inside",
                                "bound/",
                                "bound/victim",
                                "bound/tool/",
                                "bound/tool/keep-me",
                            });
    CHECK(read_text(t / "scratch/inside") == "on the tmpfs");
    CHECK(read_text(t / "data/mnt/inside") == "on the nested tmpfs");
    check_outside_untouched(outside);
    CHECK(stats->skipped_mounts == 3);
    CHECK(stats->removed == 1);  // data/file
    CHECK(stats->kept == 1);     // bin
    // "data" holds a mount point: removing it fails, costing only RAM.
    CHECK(stats->failures == 1);

    mounts.unmount_all();
    CHECK(tree(t.path()) == Entries{"bin/", "bin/busybox", "scratch/", "data/", "data/mnt/", "bound/"});
}

TEST_CASE("tree_usage_bytes on a ramfs counts whole pages exactly, not crossing mounts",
          "[rootfs][usage][mount][root]") {
    if (!must_run_as_root()) return;
    TempDir t;
    Mounts mounts;
    // rootfs is a ramfs (or tmpfs): ramfs keeps no block counts at all.
    mounts.mount("offroot-test", t / "rootfs", "ramfs", 0);
    const std::string r = t / "rootfs";
    write_text(r + "/one-byte", "x");
    write_text(r + "/one-page", std::string(4096, 'p'));
    write_text(r + "/page-and-a-byte", std::string(4097, 'p'));
    write_text(r + "/dir/sub/ten-thousand", std::string(10000, 't'));
    write_text(r + "/empty", "");
    make_symlink("one-byte", r + "/link");
    fs::create_directories(r + "/empty-dir");

    auto usage = tree_usage_bytes(r);
    REQUIRE(usage.ok());
    CHECK(*usage == (1 + 1 + 2 + 3) * 4096);

    mounts.mount("offroot-test", r + "/dir/mnt", "tmpfs", 0);
    write_text(r + "/dir/mnt/big", std::string(1 << 20, 'm'));
    auto with_mount = tree_usage_bytes(r);
    REQUIRE(with_mount.ok());
    CHECK(*with_mount == *usage);

    REQUIRE(prune_tree(r, manifest("/one-page\n")).ok());
    auto pruned = tree_usage_bytes(r);
    REQUIRE(pruned.ok());
    CHECK(*pruned == 1 * 4096);
    CHECK(tree(r) == Entries{"one-page", "dir/", "dir/mnt/", "dir/mnt/big"});
}
