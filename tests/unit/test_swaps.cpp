#include "catch.hpp"

#include <cerrno>

#include "kernel/swaps.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;

TEST_CASE("/proc/swaps: a file with a blank in its path and a partition", "[swaps]") {
    // Captured with a swap file "/var/tmp/offroot swap/swap file" and zram0.
    auto areas = parse_proc_swaps(sample_text("proc/swaps"));
    REQUIRE(areas.ok());
    REQUIRE(areas->size() == 2);

    const SwapArea& file = (*areas)[0];
    CHECK(file.filename == "/var/tmp/offroot swap/swap file");
    CHECK(file.type == "file");
    CHECK(file.size_kib == 16380);
    CHECK(file.used_kib == 0);
    CHECK(file.priority == -2);

    const SwapArea& part = (*areas)[1];
    CHECK(part.filename == "/dev/zram0");
    CHECK(part.type == "partition");
    CHECK(part.size_kib == 32764);
    CHECK(part.used_kib == 0);
    CHECK(part.priority == 5);
}

TEST_CASE("/proc/swaps: wide numbers lose their extra tab", "[swaps]") {
    // The kernel pads with a second tab only below 10000000.
    auto areas = parse_proc_swaps(
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/dev/sda2                               partition\t16777212\t1048576\t\t-2\n"
        "/swap\\134file\\011x\\040(deleted)           file\t\t1048572\t\t12345678\t-3\n");
    REQUIRE(areas.ok());
    REQUIRE(areas->size() == 2);
    CHECK((*areas)[0].filename == "/dev/sda2");
    CHECK((*areas)[0].size_kib == 16777212);
    CHECK((*areas)[0].used_kib == 1048576);
    CHECK((*areas)[0].priority == -2);
    CHECK((*areas)[1].filename == "/swap\\file\tx (deleted)");
    CHECK((*areas)[1].type == "file");
    CHECK((*areas)[1].size_kib == 1048572);
    CHECK((*areas)[1].used_kib == 12345678);
    CHECK((*areas)[1].priority == -3);
}

TEST_CASE("/proc/swaps: no swap, and malformed lines", "[swaps]") {
    auto none = parse_proc_swaps("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
    REQUIRE(none.ok());
    CHECK(none->empty());

    CHECK_FALSE(parse_proc_swaps("Filename\tType\tSize\tUsed\tPriority\n"
                                 "/dev/sda2 partition 1x 0 -2\n")
                    .ok());
    CHECK_FALSE(parse_proc_swaps("Filename\tType\tSize\tUsed\tPriority\n"
                                 "partition\t1\t0\t-2\n")
                    .ok());

    auto missing = read_swaps("/nonexistent-offroot/swaps");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().err == ENOENT);
    CHECK(read_swaps().ok());
}
