#include "catch.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "base/files.hpp"
#include "system/ifupdown_state.hpp"
#include "test_support.hpp"

using namespace offroot;
namespace fs = std::filesystem;

TEST_CASE("ifupdown's state keeps the interfaces offroot kept up, not those of a killed DHCP client", "[return][network]") {
    CHECK(ifstate_without("lo=lo\nens3=ens3\n", {}) == "lo=lo\nens3=ens3\n");
    CHECK(ifstate_without("lo=lo\nens3=ens3\nens4=wan\n\n", {"ens3"}) == "lo=lo\nens4=wan\n");
    CHECK(ifstate_without("", {"ens3"}).empty());
}

TEST_CASE("ifupdown's state goes into the fresh /run, without its lock and DHCP interfaces", "[return][network]") {
    test::TempDir dir("offroot-ifstate");
    const std::string from = dir / "old-run", to = dir / "new-run";
    fs::create_directories(from + "/network");
    fs::create_directories(to);
    std::ofstream(from + "/network/ifstate") << "lo=lo\nens3=ens3\nens4=ens4\n";
    std::ofstream(from + "/network/ifstate.lo") << "lo\n";
    std::ofstream(from + "/network/ifstate.ens3") << "ens3\n";
    std::ofstream(from + "/network/ifstate.ens4") << "ens4\n";
    std::ofstream(from + "/network/.ifstate.lock");

    std::vector<std::string> carried;
    REQUIRE(carry_ifupdown_state(from, to, {"ens4"}, false, carried));
    auto ifstate = read_file(to + "/network/ifstate");
    REQUIRE(ifstate);
    CHECK(*ifstate == "lo=lo\nens3=ens3\n");
    auto ens3 = read_file(to + "/network/ifstate.ens3");
    REQUIRE(ens3);
    CHECK(*ens3 == "ens3\n");
    CHECK(fs::exists(to + "/network/ifstate.lo"));
    CHECK_FALSE(fs::exists(to + "/network/ifstate.ens4"));
    CHECK_FALSE(fs::exists(to + "/network/.ifstate.lock"));
    std::sort(carried.begin(), carried.end());
    CHECK(carried == std::vector<std::string>{"ens3", "lo"});

    // A client that served every interface: nothing carried, ifup runs for all.
    const std::string to2 = dir / "new-run-2";
    fs::create_directories(to2);
    REQUIRE(carry_ifupdown_state(from, to2, {}, true, carried));
    CHECK(carried.empty());
    CHECK_FALSE(fs::exists(to2 + "/network"));

    // No ifupdown: nothing to do, no error.
    REQUIRE(carry_ifupdown_state(dir / "nothing", to, {}, false, carried));
    CHECK(carried.empty());
}
