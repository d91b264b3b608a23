#include "catch.hpp"
#include <sys/stat.h>

#include <string>

#include "system/rootfs.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;

namespace {

// Paths are absolute inside the tree: t.file("/usr/bin/busybox").
struct Tree {
    TempDir tmp{"offroot-manifest"};
    const std::string root = tmp.path();
    void dir(const std::string& p) { ::mkdir((root + p).c_str(), 0755); }
    void link(const std::string& target, const std::string& p) { make_symlink(target, root + p); }
    void file(const std::string& p) { write_text(root + p, "x"); }
};

}  // namespace

TEST_CASE("manifest paths through symlinks keep the links and their targets", "[rootfs][manifest]") {
    Tree t;
    // A merged-/usr initramfs: /bin -> usr/bin, /lib64 -> usr/lib64, an
    // absolute link inside it, and a chain of two links.
    t.dir("/usr");
    t.dir("/usr/bin");
    t.dir("/usr/lib64");
    t.dir("/usr/lib");
    t.dir("/usr/lib/x86_64-linux-gnu");
    t.link("usr/bin", "/bin");
    t.link("usr/lib64", "/lib64");
    t.link("usr/lib", "/lib");
    t.file("/usr/bin/busybox");
    t.link("busybox", "/usr/bin/sh");
    t.file("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    t.link("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2");
    t.file("/usr/lib/x86_64-linux-gnu/libc.so.6");

    auto m = Manifest::parse("/bin/sh\n/lib64/ld-linux-x86-64.so.2\n/lib/x86_64-linux-gnu/libc.so.6\n/nonexistent/x\n");
    REQUIRE(m.ok());
    m->resolve_symlinks(t.root);

    for (const char* kept : {"/bin", "/usr/bin/sh", "/usr/bin/busybox", "/lib64", "/usr/lib64/ld-linux-x86-64.so.2",
                             "/lib", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                             "/usr/lib/x86_64-linux-gnu/libc.so.6", "/nonexistent/x"}) {
        INFO(kept);
        CHECK(m->decide(kept) == Manifest::Decision::keep);
    }
    CHECK(m->decide("/usr") == Manifest::Decision::descend);
    CHECK(m->decide("/usr/bin/kmod") == Manifest::Decision::remove);
    CHECK(m->decide("/usr/lib/modules") == Manifest::Decision::remove);
}

TEST_CASE("a symlink loop ends without hanging", "[rootfs][manifest]") {
    Tree t;
    t.link("b", "/a");
    t.link("a", "/b");
    auto m = Manifest::parse("/a/x\n");
    REQUIRE(m.ok());
    m->resolve_symlinks(t.root);
    CHECK(m->decide("/a") == Manifest::Decision::keep);
    CHECK(m->decide("/b") == Manifest::Decision::keep);
}
