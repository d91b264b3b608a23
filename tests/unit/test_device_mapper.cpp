#include "catch.hpp"

#include <string>

#include "kernel/device_mapper.hpp"

using namespace offroot;

TEST_CASE("device-mapper: the record of held devices keeps each name, in order", "[device_mapper]") {
    const std::vector<std::string> names{"offroot--vm--vg-root", "vda5_crypt"};
    CHECK(serialize_dm_names(names) == "offroot--vm--vg-root\nvda5_crypt\n");
    CHECK(parse_dm_names(serialize_dm_names(names)) == names);
    // A truncated last line, blank lines: what a crash mid-write leaves.
    CHECK(parse_dm_names("a\n\nb") == std::vector<std::string>{"a", "b"});
    CHECK(parse_dm_names("").empty());
}

TEST_CASE("device-mapper: a name the kernel cannot hold is refused before any ioctl", "[device_mapper]") {
    const std::string too_long(200, 'x');
    CHECK(parse_dm_names(too_long + "\nok\n") == std::vector<std::string>{"ok"});
    auto s = cancel_deferred_removal(too_long);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message().find("is not valid") != std::string::npos);
    auto e = cancel_deferred_removal("");
    REQUIRE_FALSE(e.ok());
}
