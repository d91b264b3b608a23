#include "catch.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include "kernel/block_stack.hpp"
#include "test_support.hpp"

using namespace offroot;
namespace fs = std::filesystem;

namespace {

void put(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("the storage stack from sysfs: LVM on a LUKS mapping, an md mirror, plain disks left out", "[block_stack]") {
    test::TempDir sys("offroot-sysfs");
    const std::string b = sys.path();
    // The Debian installer's encrypted LVM: vda5 -> dm-0 (crypt) -> dm-1 (root), dm-2 (swap).
    put(b + "/vda/dev", "254:0\n");
    put(b + "/vda5/dev", "254:5\n");
    put(b + "/dm-0/dev", "253:0\n");
    put(b + "/dm-0/dm/name", "vda5_crypt\n");
    put(b + "/dm-0/dm/uuid", "CRYPT-LUKS2-0123456789abcdef-vda5_crypt\n");
    fs::create_directories(b + "/dm-0/slaves/vda5");
    fs::create_directories(b + "/dm-0/holders/dm-1");
    fs::create_directories(b + "/dm-0/holders/dm-2");
    put(b + "/dm-1/dev", "253:1\n");
    put(b + "/dm-1/dm/name", "vg0-root\n");
    put(b + "/dm-1/dm/uuid", "LVM-abcdefabcdef\n");
    fs::create_directories(b + "/dm-1/slaves/dm-0");
    fs::create_directories(b + "/dm-1/holders");
    put(b + "/md127/dev", "9:127\n");
    put(b + "/md127/md/level", "raid1\n");
    fs::create_directories(b + "/md127/slaves/vdb1");
    fs::create_directories(b + "/md127/slaves/vdc1");

    auto stack = read_block_stack(b);
    REQUIRE(stack);
    REQUIRE(stack->size() == 3);
    std::map<std::string, StackedDevice> by_name;
    for (const auto& d : *stack) by_name[d.kernel_name] = d;
    CHECK(by_name["dm-0"].kind == "crypt");
    CHECK(by_name["dm-0"].name == "vda5_crypt");
    CHECK(by_name["dm-0"].slaves == std::vector<std::string>{"vda5"});
    CHECK(by_name["dm-0"].holders.size() == 2);
    CHECK(by_name["dm-1"].kind == "lvm");
    CHECK(by_name["dm-1"].name == "vg0-root");
    CHECK(by_name["dm-1"].holders.empty());
    CHECK(by_name["dm-1"].major == 253);
    CHECK(by_name["dm-1"].minor == 1);
    CHECK(by_name["md127"].kind == "raid1");
    CHECK(by_name["md127"].slaves.size() == 2);
}

TEST_CASE("device-mapper kinds from the uuid prefix", "[block_stack]") {
    CHECK(dm_kind("LVM-x") == "lvm");
    CHECK(dm_kind("CRYPT-LUKS2-x") == "crypt");
    CHECK(dm_kind("mpath-3600") == "multipath");
    CHECK(dm_kind("") == "dm");
}
