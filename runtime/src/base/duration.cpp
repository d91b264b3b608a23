#include "base/duration.hpp"

#include <cstdio>

namespace offroot {

namespace {

constexpr int64_t kMaxDuration = 366LL * 24 * 3600;

int64_t unit_seconds(char unit) {
    switch (unit) {
        case 's': return 1;
        case 'm': return 60;
        case 'h': return 3600;
        case 'd': return 86400;
        default: return 0;
    }
}

}  // namespace

Result<int64_t> parse_duration(std::string_view text) {
    const std::string shown = quoted(std::string(text));
    const std::string forms = "give it with a unit: 90s, 30m, 2h, 1h30m";
    if (text.empty()) return plain_error("an empty duration", forms);
    int64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        const size_t digits_start = i;
        int64_t count = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            count = count * 10 + (text[i] - '0');
            if (count > kMaxDuration) return plain_error("the duration " + shown + " is more than a year", forms);
        }
        if (i == digits_start) return plain_error("the duration " + shown + " is not a number with a unit", forms);
        if (i == text.size()) return plain_error("the duration " + shown + " has no unit", forms);
        const int64_t unit = unit_seconds(text[i]);
        if (unit == 0)
            return plain_error("the duration " + shown + " has an unknown unit " + quoted(std::string(1, text[i])), forms);
        ++i;
        total += count * unit;
        if (total > kMaxDuration) return plain_error("the duration " + shown + " is more than a year", forms);
    }
    if (total == 0) return plain_error("the duration " + shown + " is zero", forms);
    return total;
}

const char* format_duration(int64_t seconds, char* buffer, size_t size) noexcept {
    if (size == 0) return buffer;
    buffer[0] = '\0';
    size_t used = 0;
    auto put = [&](long long value, char unit) noexcept {
        if (used >= size) return;
        const int n = std::snprintf(buffer + used, size - used, "%lld%c", value, unit);
        if (n > 0) used += static_cast<size_t>(n);
    };
    if (seconds < 0) {
        if (size > 1) {
            buffer[0] = '-';
            buffer[1] = '\0';
            used = 1;
        }
        seconds = -seconds;
    }
    const long long d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60, s = seconds % 60;
    if (d > 0) put(d, 'd');
    if (h > 0) put(h, 'h');
    if (m > 0) put(m, 'm');
    if (s > 0 || seconds == 0) put(s, 's');
    return buffer;
}

std::string format_duration(int64_t seconds) {
    char buffer[48];
    return format_duration(seconds, buffer, sizeof buffer);
}

}  // namespace offroot
