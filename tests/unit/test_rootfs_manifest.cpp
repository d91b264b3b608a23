#include "catch.hpp"

#include <set>
#include <string>

#include "system/rootfs.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;
using Paths = std::set<std::string>;
using D = Manifest::Decision;

namespace {

Manifest parsed(std::string_view text) {
    auto m = Manifest::parse(text);
    REQUIRE(m.ok());
    return std::move(m).value();
}

std::string to_string(D d) {
    switch (d) {
        case D::keep: return "keep";
        case D::descend: return "descend";
        case D::remove: return "remove";
    }
    return "?";
}

}  // namespace

TEST_CASE("normalize_absolute: repeated and trailing slashes go", "[rootfs][manifest]") {
    CHECK(normalize_absolute("/a//b/") == "/a/b");
    CHECK(normalize_absolute("//usr///lib/offroot//") == "/usr/lib/offroot");
    CHECK(normalize_absolute("/bin") == "/bin");
    CHECK(normalize_absolute("/my dir/x") == "/my dir/x");
}

TEST_CASE("normalize_absolute: the root stays \"/\"", "[rootfs][manifest]") {
    CHECK(normalize_absolute("/") == "/");
    CHECK(normalize_absolute("///") == "/");
}

TEST_CASE("normalize_absolute: relative or empty paths give \"\"", "[rootfs][manifest]") {
    CHECK(normalize_absolute("") == "");
    CHECK(normalize_absolute("bin") == "");
    CHECK(normalize_absolute("./bin") == "");
    CHECK(normalize_absolute(" /bin") == "");
}

TEST_CASE("manifest: comments, blank lines and surrounding blanks are skipped", "[rootfs][manifest]") {
    auto m = parsed(
        "# written by the initramfs hook\n"
        "\n"
        "/bin\n"
        "   \t\n"
        "  # indented comment\n"
        "\t/usr/lib/offroot  \r\n"
        "/etc/dropbear/\n"
        "/opt/my dir\n"
        "/bin\n");
    CHECK(m.paths() == Paths{"/bin", "/usr/lib/offroot", "/etc/dropbear", "/opt/my dir", "/etc/offroot/manifest"});
}

TEST_CASE("manifest: the last line needs no newline", "[rootfs][manifest]") {
    CHECK(parsed("/bin\n/sbin").paths() == Paths{"/bin", "/sbin", "/etc/offroot/manifest"});
}

TEST_CASE("manifest: the manifest itself is always kept", "[rootfs][manifest]") {
    auto empty = parsed("");
    CHECK(empty.paths() == Paths{"/etc/offroot/manifest"});
    CHECK(empty.decide("/etc/offroot/manifest") == D::keep);
    CHECK(empty.decide("/etc/offroot") == D::descend);
    CHECK(empty.decide("/etc") == D::descend);
    CHECK(empty.decide("/etc/passwd") == D::remove);
    CHECK(empty.decide("/etc/offroot/other") == D::remove);
    CHECK(empty.decide("/bin") == D::remove);
}

TEST_CASE("manifest: a relative path is an error naming its line", "[rootfs][manifest]") {
    auto m = Manifest::parse("# comment\n/bin\n\nusr/lib/offroot\n/sbin\n");
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message() == "manifest line 4: not an absolute path: \"usr/lib/offroot\"");
    CHECK(m.error().err == 0);
}

TEST_CASE("manifest: \"/\" is refused, however it is written", "[rootfs][manifest]") {
    for (const char* root : {"/", "//", "/// "}) {
        INFO(root);
        auto m = Manifest::parse(std::string("/bin\n") + root + "\n");
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().message() == "manifest line 2: \"/\" would keep everything");
    }
}

TEST_CASE("manifest: read() names the file in its errors", "[rootfs][manifest]") {
    TempDir dir("offroot-manifest");
    const std::string file = dir / "manifest";

    write_text(file, "/bin\n/usr/lib/offroot/\n");
    auto good = Manifest::read(file);
    REQUIRE(good.ok());
    CHECK(good->paths() == Paths{"/bin", "/usr/lib/offroot", "/etc/offroot/manifest"});

    write_text(file, "/bin\nsbin\n");
    auto bad = Manifest::read(file);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message() == file + ": manifest line 2: not an absolute path: \"sbin\"");

    auto missing = Manifest::read(dir / "none");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message() == missing_file_message(dir / "none"));
}

TEST_CASE("manifest: listed paths and everything inside them are kept", "[rootfs][manifest]") {
    auto m = parsed("/bin\n/usr/lib/offroot\n/etc/dropbear/authorized_keys\n");
    CHECK(m.decide("/bin") == D::keep);
    CHECK(m.decide("/bin/busybox") == D::keep);
    CHECK(m.decide("/bin/sub/dir/file") == D::keep);
    CHECK(m.decide("/usr/lib/offroot") == D::keep);
    CHECK(m.decide("/usr/lib/offroot/run-init") == D::keep);
    CHECK(m.decide("/etc/dropbear/authorized_keys") == D::keep);
}

TEST_CASE("manifest: ancestors of listed paths are descended into", "[rootfs][manifest]") {
    auto m = parsed("/usr/lib/offroot\n/etc/dropbear/authorized_keys\n");
    CHECK(m.decide("/") == D::descend);
    CHECK(m.decide("/usr") == D::descend);
    CHECK(m.decide("/usr/lib") == D::descend);
    CHECK(m.decide("/etc") == D::descend);
    CHECK(m.decide("/etc/dropbear") == D::descend);
}

TEST_CASE("manifest: siblings and name prefixes are removed", "[rootfs][manifest]") {
    auto m = parsed("/bin\n/usr/lib/offroot\n");
    for (const char* path : {"/binx", "/bin.old", "/bi", "/sbin", "/usr/lib/offrootx", "/usr/lib/offroot.d",
                             "/usr/lib/udev", "/usr/lib/udev/rules.d/50-test.rules", "/usr/share", "/lib",
                             "/lib/modules", "/root", "/scripts"}) {
        INFO(path);
        CHECK(to_string(m.decide(path)) == "remove");
    }
}

TEST_CASE("manifest: a name sorting between a directory and its children does not confuse descend",
          "[rootfs][manifest]") {
    // '.' and '-' sort before '/': "/bin.d/x" < "/bin/" < "/bin0".
    auto m = parsed("/bin.d/x\n/bin0\n");
    CHECK(m.decide("/bin") == D::remove);
    CHECK(m.decide("/bin.d") == D::descend);
    CHECK(m.decide("/bin.d/x") == D::keep);
    CHECK(m.decide("/bin.d/y") == D::remove);
    CHECK(m.decide("/bin0") == D::keep);

    auto n = parsed("/usr/lib-x\n/usr/lib/offroot\n");
    CHECK(n.decide("/usr/lib") == D::descend);
    CHECK(n.decide("/usr/lib-x") == D::keep);
    CHECK(n.decide("/usr/lib/udev") == D::remove);
}

TEST_CASE("manifest: a listed directory under a listed directory is simply kept", "[rootfs][manifest]") {
    auto m = parsed("/usr\n/usr/lib/offroot\n");
    CHECK(m.decide("/usr") == D::keep);
    CHECK(m.decide("/usr/lib") == D::keep);
    CHECK(m.decide("/usr/share/doc") == D::keep);
}
