// The two time limits of a stay off the disk, each a record in the
// emergency environment's RAM (beside the transition record):
//
//   the automatic return (offroot enter --timeout, offroot extend,
//   offroot confirm): unless the admin extends or confirms it from a 1022
//   session, PID 1 (the init stub) starts `offroot return` itself when it
//   runs out (init_stub.cpp, transitions/time_limit.cpp);
//   sshd's return (offroot return --sshd-timeout): once the real init has
//   PID 1 back, sshd must listen on port 22 again within it, or `offroot
//   status` says that it did not and that the 1022 session is still there.
//
// Deadlines are CLOCK_BOOTTIME seconds: a wall clock that NTP steps (the
// network comes and goes around enter) must not fire a return early, nor
// hold one off. Records are written beside and renamed over, as the
// transition record is: PID 1 reads them on its tick and never sees half.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace offroot {

class JsonWriter;

inline constexpr const char* kAutoReturnRecord = "/var/lib/offroot/time-limit";
inline constexpr const char* kSshdReturnRecord = "/var/lib/offroot/sshd-limit";

// The shortest limit enter --timeout and extend take: a return that starts
// before the admin has even logged in again on 1022 is a trap, not a
// safety net. The namespace tests lower it with OFFROOT_TEST_MINIMUM_TIMEOUT
// (seconds; tests/ns/scenarios/time-limit-driver.sh); nothing else should.
inline constexpr int64_t kMinimumTimeLimit = 60;
inline constexpr int64_t kDefaultSshdTimeLimit = 300;
int64_t minimum_time_limit();
// parse_duration, then at least minimum_time_limit(): "--timeout: 10s is
// shorter than the minimum of 1m".
Result<int64_t> parse_time_limit(const std::string& option, std::string_view text);

// Seconds since boot, suspend included (CLOCK_BOOTTIME).
int64_t boottime_seconds() noexcept;

struct TimeLimit {
    int64_t deadline = 0;  // CLOCK_BOOTTIME seconds
    int64_t limit = 0;     // the length it was set with, for messages
    // The automatic return only: when PID 1 started it, and the one line
    // of why it failed (the host stayed DETACHED).
    int64_t started = 0;
    std::string failed;
};

TimeLimit time_limit_from(int64_t now, int64_t limit);
// Negative once run out.
inline int64_t seconds_left(const TimeLimit& t, int64_t now) { return t.deadline - now; }

// The record's fields, read without allocating (PID 1 reads them): `failed`
// points into `text`. False when the record names no deadline or limit.
struct TimeLimitView {
    int64_t deadline = 0;
    int64_t limit = 0;
    int64_t started = 0;
    std::string_view failed;
};
bool parse_time_limit_record(std::string_view text, TimeLimitView& out) noexcept;
std::string serialize(const TimeLimit& t);

// Nothing when there is no record.
Result<std::optional<TimeLimit>> read_time_limit(const std::string& path);
Status write_time_limit(const std::string& path, const TimeLimit& t);
Status remove_time_limit(const std::string& path);
// For PID 1: the record at `path` read into `buffer`; false when there is
// none or it does not parse.
bool read_time_limit_fixed(const char* path, char* buffer, size_t size, TimeLimitView& out) noexcept;

// What PID 1 does about the automatic return on a tick. `started_for` is
// the deadline it last started a return for (0: none): one start a
// deadline, whatever comes of it (a failed return records why and leaves
// the host DETACHED; offroot extend sets a new deadline, and with it a new
// try).
enum class AutoReturnStep { nothing, wait_for_transition, start };
AutoReturnStep auto_return_step(const TimeLimitView* record, int64_t now, bool transition_running,
                                int64_t started_for) noexcept;

// What `offroot status` says of both, read through `prefix` (a way into
// the emergency environment). The automatic return is shown outside
// NORMAL only: a record left by an enter undone is no limit on anything.
struct TimeLimitReport {
    int64_t now = 0;
    bool normal = false;
    std::optional<TimeLimit> automatic;
    std::optional<TimeLimit> sshd;
    std::optional<bool> sshd_listening;  // nothing: could not be told
    std::string error;                   // a record or /proc/net/tcp unreadable
};
TimeLimitReport read_time_limits(const std::string& prefix, bool normal);
// Lines for the human status, each ending in '\n'; empty when there is
// nothing to say.
std::string format_time_limits_human(const TimeLimitReport& report);
// "automatic_return" and "sshd_return", each an object or null.
void add_time_limits_json(JsonWriter& j, const TimeLimitReport& report);

}  // namespace offroot
