#include "catch.hpp"

#include <cerrno>
#include <filesystem>
#include <optional>

#include "system/transition_record.hpp"
#include "test_support.hpp"

using namespace offroot;
using offroot::test::TempDir;

TEST_CASE("the transition record round-trips, arguments and all", "[transition-record]") {
    TransitionRecord r{"return", 412, "mount-root", 1764608531, {"--root", "/dev/disk/by-label/new root", "--fsck"}};
    const std::string text = serialize(r);
    CHECK(text ==
          "TRANSITION=return\nPID=412\nSTEP=mount-root\nSTARTED=1764608531\nARG=--root\n"
          "ARG=/dev/disk/by-label/new root\nARG=--fsck\n");
    auto back = parse_transition_record(text);
    REQUIRE(back.ok());
    CHECK(back->transition == "return");
    CHECK(back->pid == 412);
    CHECK(back->step == "mount-root");
    CHECK(back->started == 1764608531);
    CHECK(back->arguments == r.arguments);
    CHECK(describe(*back) == "return (pid 412) at step mount-root, started 2025-12-01 17:02:11 UTC");
}

TEST_CASE("a transition record without a name or a valid pid is refused", "[transition-record]") {
    auto no_name = parse_transition_record("PID=3\nSTEP=x\n");
    REQUIRE_FALSE(no_name.ok());
    CHECK(no_name.error().message() == "the transition record names no transition");
    auto no_pid = parse_transition_record("TRANSITION=enter\n");
    REQUIRE_FALSE(no_pid.ok());
    CHECK(no_pid.error().message() == "the transition record names no pid");
    auto bad_pid = parse_transition_record("TRANSITION=enter\nPID=12x\n");
    REQUIRE_FALSE(bad_pid.ok());
    CHECK(bad_pid.error().message() == "the transition record names no valid pid (\"12x\")");
    CHECK_FALSE(parse_transition_record("TRANSITION=enter\nPID=0\n").ok());
    CHECK_FALSE(parse_transition_record("TRANSITION=enter\nPID=5\nSTARTED=yesterday\n").ok());
}

TEST_CASE("the lock is one holder's at a time, and free when it lets go", "[transition-record]") {
    TempDir dir;
    std::filesystem::create_directories(dir / "var/lib/offroot");
    const std::string path = dir.path() + kTransitionLock;

    auto none = read_transition_state(dir.path());
    REQUIRE(none.ok());
    CHECK_FALSE(none->running);
    CHECK_FALSE(none->record);

    std::optional<TransitionLock> held;
    {
        auto first = TransitionLock::acquire(path);
        REQUIRE(first.ok());
        held.emplace(std::move(*first));
    }
    // flock(2) locks belong to an open file: a second open conflicts even in
    // the same process, as a second offroot would.
    auto second = TransitionLock::acquire(path);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().err == EWOULDBLOCK);
    CHECK(second.error().what == "flock(\"" + path + "\", LOCK_EX|LOCK_NB)");
    auto running = read_transition_state(dir.path());
    REQUIRE(running.ok());
    CHECK(running->running);
    CHECK_FALSE(running->interrupted());

    held.reset();
    auto after = read_transition_state(dir.path());
    REQUIRE(after.ok());
    CHECK_FALSE(after->running);
    CHECK(TransitionLock::acquire(path).ok());
}

TEST_CASE("a record whose lock is free is an interrupted transition", "[transition-record]") {
    TempDir dir;
    offroot::test::write_text(dir.path() + kTransitionRecord, "TRANSITION=enter\nPID=99\nSTEP=stop-services\nSTARTED=0\n");
    auto state = read_transition_state(dir.path());
    REQUIRE(state.ok());
    REQUIRE(state->record);
    CHECK(state->interrupted());
    CHECK(state->record->step == "stop-services");

    offroot::test::write_text(dir.path() + kTransitionRecord, "garbage\n");
    auto bad = read_transition_state(dir.path());
    REQUIRE(bad.ok());
    CHECK_FALSE(bad->record);
    CHECK(bad->record_error == dir.path() + kTransitionRecord + ": the transition record names no transition");
}

TEST_CASE("the worker's record follows its steps and goes when it is over", "[transition-record]") {
    TempDir dir;
    const std::string path = dir / "transition";
    note_transition_step("ignored");  // no transition begun: nothing written
    CHECK_FALSE(std::filesystem::exists(path));
    REQUIRE(begin_transition_record(path, TransitionRecord{"enter", 7, "", 5, {}}).ok());
    auto text = read_file(path);
    REQUIRE(text.ok());
    CHECK(*text == "TRANSITION=enter\nPID=7\nSTEP=starting\nSTARTED=5\n");
    note_transition_step("bring-tools");
    text = read_file(path);
    REQUIRE(text.ok());
    CHECK(parse_transition_record(*text)->step == "bring-tools");
    CHECK_FALSE(std::filesystem::exists(path + ".new"));
    end_transition_record();
    CHECK_FALSE(std::filesystem::exists(path));
}
