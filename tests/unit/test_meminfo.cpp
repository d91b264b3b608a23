#include "catch.hpp"

#include <cerrno>
#include <string>

#include "kernel/meminfo.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;

namespace {

std::string sample() { return sample_text("proc/meminfo"); }

std::string without_line(std::string text, const std::string& key) {
    size_t at = text.find("\n" + key + ":");
    REQUIRE(at != std::string::npos);
    size_t end = text.find('\n', at + 1);
    text.erase(at, end - at);
    return text;
}

}  // namespace

TEST_CASE("meminfo sample", "[meminfo]") {
    auto info = parse_meminfo(sample());
    REQUIRE(info.ok());
    CHECK(info->total_kib == 24684100);
    CHECK(info->free_kib == 22798388);
    CHECK(info->available_kib == 24098724);
    CHECK(info->shmem_kib == 8724);
    CHECK(info->swap_total_kib == 49144);
    CHECK(info->swap_free_kib == 49144);
}

TEST_CASE("meminfo without MemAvailable names the field", "[meminfo]") {
    auto info = parse_meminfo(without_line(sample(), "MemAvailable"));
    REQUIRE_FALSE(info.ok());
    CHECK(info.error().what.find("MemAvailable") != std::string::npos);

    auto no_shmem = parse_meminfo(without_line(sample(), "Shmem"));
    REQUIRE_FALSE(no_shmem.ok());
    CHECK(no_shmem.error().what.find("Shmem") != std::string::npos);
}

TEST_CASE("meminfo with a malformed value is an error", "[meminfo]") {
    std::string text = sample();
    size_t at = text.find("24684100 kB");
    REQUIRE(at != std::string::npos);
    text.replace(at, 8, "2468x100");
    auto info = parse_meminfo(text);
    REQUIRE_FALSE(info.ok());
    CHECK(info.error().what.find("MemTotal") != std::string::npos);
}

TEST_CASE("read_meminfo of this machine", "[meminfo]") {
    auto info = read_meminfo();
    REQUIRE(info.ok());
    CHECK(info->total_kib > 0);
    CHECK(info->available_kib <= info->total_kib);
    CHECK(info->swap_free_kib <= info->swap_total_kib);

    auto missing = read_meminfo("/nonexistent-offroot/meminfo");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().err == ENOENT);
}
