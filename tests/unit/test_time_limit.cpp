#include "catch.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/duration.hpp"
#include "base/files.hpp"
#include "kernel/tcp_listeners.hpp"
#include "system/time_limit.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;

namespace {

int64_t seconds_of(const std::string& text) {
    auto parsed = parse_duration(text);
    INFO(text << ": " << (parsed ? std::string() : parsed.error().message()));
    REQUIRE(parsed);
    return *parsed;
}

std::string refusal(const std::string& text) {
    auto parsed = parse_duration(text);
    INFO(text);
    REQUIRE_FALSE(parsed);
    return parsed.error().message();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("durations as an admin types them", "[time_limit]") {
    CHECK(seconds_of("90s") == 90);
    CHECK(seconds_of("30m") == 1800);
    CHECK(seconds_of("2h") == 7200);
    CHECK(seconds_of("1h30m") == 5400);
    CHECK(seconds_of("1d") == 86400);
    CHECK(seconds_of("1m30s") == 90);
    CHECK(seconds_of("366d") == 366 * 86400);
}

TEST_CASE("durations refused, each with a clear reason", "[time_limit]") {
    CHECK(contains(refusal(""), "empty"));
    CHECK(contains(refusal("30"), "has no unit"));
    CHECK(contains(refusal("0m"), "is zero"));
    CHECK(contains(refusal("0s0m"), "is zero"));
    CHECK(contains(refusal("5x"), "unknown unit"));
    CHECK(contains(refusal("abc"), "not a number with a unit"));
    CHECK(contains(refusal("-5m"), "not a number with a unit"));
    CHECK(contains(refusal("+5m"), "not a number with a unit"));
    CHECK(contains(refusal("5 m"), "unknown unit"));
    CHECK(contains(refusal("m"), "not a number with a unit"));
    CHECK(contains(refusal("367d"), "more than a year"));
    // Digits that would overflow int64_t stop at the year, not wrap.
    CHECK(contains(refusal("99999999999999999999999s"), "more than a year"));
    CHECK(contains(refusal("30mx"), "not a number with a unit"));
    CHECK(contains(refusal("30m5"), "has no unit"));
    // The hint names the forms.
    auto parsed = parse_duration("30");
    REQUIRE_FALSE(parsed);
    CHECK(contains(parsed.error().hint, "90s, 30m, 2h"));
}

TEST_CASE("durations written back in the same form", "[time_limit]") {
    CHECK(format_duration(0) == "0s");
    CHECK(format_duration(59) == "59s");
    CHECK(format_duration(60) == "1m");
    CHECK(format_duration(90) == "1m30s");
    CHECK(format_duration(5400) == "1h30m");
    CHECK(format_duration(86400 + 1) == "1d1s");
    CHECK(format_duration(-75) == "-1m15s");
    // Cut at the buffer, still terminated, no allocation.
    char small[4];
    CHECK(std::string(format_duration(5400, small, sizeof small)) == "1h3");
}

TEST_CASE("the minimum time limit, and the tests' way to lower it", "[time_limit]") {
    ::unsetenv("OFFROOT_TEST_MINIMUM_TIMEOUT");
    CHECK(minimum_time_limit() == 60);
    auto short_one = parse_time_limit("--timeout", "30s");
    REQUIRE_FALSE(short_one);
    CHECK(short_one.error().message().find("--timeout: 30s is shorter than the minimum of 1m") == 0);
    CHECK(*parse_time_limit("--timeout", "1m") == 60);
    auto garbage = parse_time_limit("--timeout", "soon");
    REQUIRE_FALSE(garbage);
    CHECK(garbage.error().message().find("--timeout: the duration \"soon\"") == 0);
    ::setenv("OFFROOT_TEST_MINIMUM_TIMEOUT", "2", 1);
    CHECK(*parse_time_limit("--timeout", "3s") == 3);
    CHECK_FALSE(parse_time_limit("--timeout", "1s"));
    ::setenv("OFFROOT_TEST_MINIMUM_TIMEOUT", "nonsense", 1);
    CHECK(minimum_time_limit() == 60);
    ::unsetenv("OFFROOT_TEST_MINIMUM_TIMEOUT");
}

TEST_CASE("deadline arithmetic on the boot clock", "[time_limit]") {
    const TimeLimit t = time_limit_from(1000, 1800);
    CHECK(t.deadline == 2800);
    CHECK(t.limit == 1800);
    CHECK(seconds_left(t, 1000) == 1800);
    CHECK(seconds_left(t, 2799) == 1);
    CHECK(seconds_left(t, 2800) == 0);
    CHECK(seconds_left(t, 2810) == -10);
    const int64_t a = boottime_seconds();
    CHECK(a >= 0);
    CHECK(boottime_seconds() >= a);
}

TEST_CASE("time limit records: written, read back, one line of failure", "[time_limit]") {
    TimeLimit t{2800, 1800, 2801, "mounting the root: No such device\nsecond line"};
    const std::string text = serialize(t);
    CHECK(text == "DEADLINE=2800\nLIMIT=1800\nSTARTED=2801\nFAILED=mounting the root: No such device second line\n");
    TimeLimitView view;
    REQUIRE(parse_time_limit_record(text, view));
    CHECK(view.deadline == 2800);
    CHECK(view.limit == 1800);
    CHECK(view.started == 2801);
    CHECK(view.failed == "mounting the root: No such device second line");
    CHECK_FALSE(parse_time_limit_record("LIMIT=60\n", view));
    CHECK_FALSE(parse_time_limit_record("DEADLINE=x\nLIMIT=60\n", view));
    CHECK_FALSE(parse_time_limit_record("DEADLINE=0\nLIMIT=60\n", view));
    CHECK_FALSE(parse_time_limit_record("", view));
    REQUIRE(parse_time_limit_record("DEADLINE=5\nLIMIT=60", view));  // no final newline
    CHECK(view.started == 0);
    CHECK(view.failed.empty());

    TempDir dir;
    const std::string path = dir.path() + "/time-limit";
    auto none = read_time_limit(path);
    REQUIRE(none);
    CHECK_FALSE(*none);
    REQUIRE(write_time_limit(path, t));
    CHECK_FALSE(exists_nofollow(path + ".new"));
    auto back = read_time_limit(path);
    REQUIRE(back);
    REQUIRE(*back);
    CHECK((*back)->deadline == 2800);
    CHECK((*back)->failed == "mounting the root: No such device second line");
    char buffer[512];
    TimeLimitView fixed;
    REQUIRE(read_time_limit_fixed(path.c_str(), buffer, sizeof buffer, fixed));
    CHECK(fixed.deadline == 2800);
    REQUIRE(remove_time_limit(path));
    REQUIRE(remove_time_limit(path));  // gone already: fine
    CHECK_FALSE(read_time_limit_fixed(path.c_str(), buffer, sizeof buffer, fixed));
}

TEST_CASE("what PID 1 does about the automatic return on a tick", "[time_limit]") {
    TimeLimitView limit;
    limit.deadline = 2800;
    limit.limit = 1800;
    CHECK(auto_return_step(nullptr, 5000, false, 0) == AutoReturnStep::nothing);  // confirmed
    CHECK(auto_return_step(&limit, 2799, false, 0) == AutoReturnStep::nothing);   // not yet
    CHECK(auto_return_step(&limit, 2800, false, 0) == AutoReturnStep::start);
    CHECK(auto_return_step(&limit, 2800, true, 0) == AutoReturnStep::wait_for_transition);
    // Once a deadline: a start that failed is not repeated every tick...
    CHECK(auto_return_step(&limit, 2900, false, 2800) == AutoReturnStep::nothing);
    // ... but a deadline set anew (offroot extend) gets its own.
    TimeLimitView extended = limit;
    extended.deadline = 4000;
    CHECK(auto_return_step(&extended, 4001, false, 2800) == AutoReturnStep::start);
    TimeLimitView started = limit;
    started.started = 2801;
    CHECK(auto_return_step(&started, 2900, false, 0) == AutoReturnStep::nothing);
    TimeLimitView failed = limit;
    failed.failed = "no root";
    CHECK(auto_return_step(&failed, 2900, false, 0) == AutoReturnStep::nothing);
}

TEST_CASE("sshd back: a LISTEN socket on port 22 in /proc/net/tcp or tcp6", "[time_limit]") {
    const std::string dropbear_only = sample_text("proc/net_tcp_dropbear_only");
    // 1022 listens; 22 only as the far end of a connection out, and in
    // TIME_WAIT: neither is sshd back.
    CHECK(table_listens_on(dropbear_only, 1022));
    CHECK_FALSE(table_listens_on(dropbear_only, 22));
    CHECK(table_listens_on(sample_text("proc/net_tcp_sshd"), 22));
    CHECK(table_listens_on(sample_text("proc/net_tcp6_sshd"), 22));
    CHECK_FALSE(table_listens_on(sample_text("proc/net_tcp6_sshd"), 1022));
    CHECK_FALSE(table_listens_on("", 22));
    CHECK_FALSE(table_listens_on("garbage\n  0: nothing\n", 22));
    // This machine's own tables read, whatever they hold.
    CHECK(tcp_port_listening(22));
}

TEST_CASE("status lines for the automatic return and sshd's return", "[time_limit]") {
    TimeLimitReport r;
    r.now = 1000;
    CHECK(format_time_limits_human(r) == "automatic return: none (offroot extend DURATION sets a time limit)\n");
    r.automatic = TimeLimit{1600, 1800, 0, {}};
    CHECK(format_time_limits_human(r) ==
          "automatic return in 10m (time limit 30m): offroot extend DURATION to put it off, offroot confirm to call "
          "it off\n");
    r.automatic->failed = "no --root given";
    r.automatic->deadline = 990;
    CHECK(contains(format_time_limits_human(r),
                   "automatic return FAILED (the time limit of 30m ran out 10s ago): no --root given\n  still DETACHED"));
    r = TimeLimitReport{};
    r.now = 1000;
    r.normal = true;
    r.sshd = TimeLimit{1100, 300, 0, {}};
    r.sshd_listening = false;
    CHECK(format_time_limits_human(r) ==
          "sshd on port 22: not listening yet, 1m40s left of the 5m offroot return gives it\n");
    r.now = 1200;
    CHECK(format_time_limits_human(r) ==
          "sshd on port 22 did not come back within 5m of offroot return: the emergency session on port 1022 is "
          "still available\n");
    r.sshd_listening = true;
    CHECK(format_time_limits_human(r) == "sshd on port 22: listening again since offroot return\n");
}
