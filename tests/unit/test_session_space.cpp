#include "catch.hpp"

#include <string>
#include <vector>

#include "system/session_space.hpp"

using namespace offroot;

namespace {

SessionSpace capped(const char* path, uint64_t size_kib, uint64_t used_kib) {
    SessionSpace s;
    s.path = path;
    s.capped = true;
    s.fs_type = "tmpfs";
    s.size_kib = size_kib;
    s.used_kib = used_kib;
    return s;
}

SessionSpace uncapped(const char* path, const char* fs_type) {
    SessionSpace s;
    s.path = path;
    s.fs_type = fs_type;
    return s;
}

}  // namespace

TEST_CASE("the RAM preflight counts the room left in the sessions' capped /tmp and home") {
    const std::vector<SessionSpace> spaces{capped("/tmp", 65536, 1024), capped("/var/lib/offroot", 16384, 8)};
    CHECK(session_room_kib(spaces) == (65536 - 1024) + (16384 - 8));
    CHECK(uncapped_session_notes(spaces).empty());
}

TEST_CASE("a full cap leaves no room, and never wraps below zero") {
    CHECK(capped("/tmp", 1024, 1024).room_kib() == 0);
    // tmpfs can report more used than its size after a remount smaller.
    CHECK(capped("/tmp", 1024, 2048).room_kib() == 0);
}

TEST_CASE("an uncapped space counts nothing and is named in a note") {
    const std::vector<SessionSpace> spaces{uncapped("/tmp", "ramfs"), capped("/var/lib/offroot", 100, 0),
                                           uncapped("/var/lib/offroot", "")};
    CHECK(session_room_kib(spaces) == 100);
    const auto notes = uncapped_session_notes(spaces);
    REQUIRE(notes.size() == 2);
    CHECK(notes[0].find("a /tmp with no size cap of its own (ramfs)") != std::string::npos);
    CHECK(notes[0].find("SESSION_TMP_SIZE") != std::string::npos);
    CHECK(notes[1].find("(unreadable)") != std::string::npos);
}
