// Durations as an admin types them: "90s", "30m", "2h", "1h30m", "1d".
// A unit is required: a bare "30" is refused rather than guessed (shutdown
// reads minutes, sleep seconds; a dead-man timer must not mean the other).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace offroot {

// Seconds, > 0. Refused: empty, no unit, an unknown unit, zero, a sign,
// more than a year (a typo, not a plan).
Result<int64_t> parse_duration(std::string_view text);

// The shortest of the same form: 5400 -> "1h30m", 90 -> "1m30s", 0 -> "0s";
// a negative count is written with a '-'. Into `buffer` without allocating
// (for PID 1), cut at its size; returns `buffer`.
const char* format_duration(int64_t seconds, char* buffer, size_t size) noexcept;
std::string format_duration(int64_t seconds);

}  // namespace offroot
