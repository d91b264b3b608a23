#include "system/time_limit.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "base/duration.hpp"
#include "base/files.hpp"
#include "base/json.hpp"
#include "base/text.hpp"
#include "kernel/tcp_listeners.hpp"

namespace offroot {

int64_t minimum_time_limit() {
    int64_t lowered = 0;
    if (const char* v = std::getenv("OFFROOT_TEST_MINIMUM_TIMEOUT"); v != nullptr && parse_number(v, lowered) &&
                                                                     lowered > 0)
        return lowered;
    return kMinimumTimeLimit;
}

Result<int64_t> parse_time_limit(const std::string& option, std::string_view text) {
    auto seconds = parse_duration(text);
    if (!seconds) return seconds.error().context(option);
    if (const int64_t minimum = minimum_time_limit(); *seconds < minimum)
        return plain_error(option + ": " + format_duration(*seconds) + " is shorter than the minimum of " +
                               format_duration(minimum),
                           "leave yourself the time to log in again on port 1022");
    return *seconds;
}

int64_t boottime_seconds() noexcept {
    struct timespec ts {};
    // CLOCK_BOOTTIME exists since Linux 2.6.39; should it fail, the
    // monotonic clock is the next best (it only misses suspend).
    if (::clock_gettime(CLOCK_BOOTTIME, &ts) != 0) ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec);
}

TimeLimit time_limit_from(int64_t now, int64_t limit) { return TimeLimit{now + limit, limit, 0, {}}; }

bool parse_time_limit_record(std::string_view text, TimeLimitView& out) noexcept {
    out = TimeLimitView{};
    bool deadline = false, limit = false;
    while (!text.empty()) {
        const size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "DEADLINE") deadline = parse_number(value, out.deadline) && out.deadline > 0;
        if (key == "LIMIT") limit = parse_number(value, out.limit) && out.limit > 0;
        if (key == "STARTED" && !parse_number(value, out.started)) out.started = 0;
        if (key == "FAILED") out.failed = value;
    }
    return deadline && limit;
}

std::string serialize(const TimeLimit& t) {
    std::string out = "DEADLINE=" + std::to_string(t.deadline) + "\nLIMIT=" + std::to_string(t.limit) + "\n";
    if (t.started != 0) out += "STARTED=" + std::to_string(t.started) + "\n";
    if (!t.failed.empty()) {
        std::string line = t.failed;
        for (char& c : line)
            if (c == '\n') c = ' ';
        out += "FAILED=" + line + "\n";
    }
    return out;
}

Result<std::optional<TimeLimit>> read_time_limit(const std::string& path) {
    if (!exists_nofollow(path)) return std::optional<TimeLimit>();
    auto text = read_file(path);
    if (!text) return text.error();
    TimeLimitView view;
    if (!parse_time_limit_record(*text, view)) return plain_error(quoted(path) + " names no deadline and limit");
    return std::optional<TimeLimit>(TimeLimit{view.deadline, view.limit, view.started, std::string(view.failed)});
}

Status write_time_limit(const std::string& path, const TimeLimit& t) { return replace_file(path, serialize(t), 0600); }

Status remove_time_limit(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error("unlink(" + quoted(path) + ")");
    return {};
}

bool read_time_limit_fixed(const char* path, char* buffer, size_t size, TimeLimitView& out) noexcept {
    if (size == 0) return false;
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return false;
    // One read: the record is a few lines, written whole by rename.
    const ssize_t n = ::read(fd, buffer, size - 1);
    ::close(fd);
    if (n <= 0) return false;
    return parse_time_limit_record(std::string_view(buffer, static_cast<size_t>(n)), out);
}

AutoReturnStep auto_return_step(const TimeLimitView* record, int64_t now, bool transition_running,
                                int64_t started_for) noexcept {
    // Confirmed (no record), not yet run out, or already started once.
    if (record == nullptr || now < record->deadline) return AutoReturnStep::nothing;
    if (record->started != 0 || !record->failed.empty() || record->deadline == started_for)
        return AutoReturnStep::nothing;
    // The admin's own return (or a recover) runs: it decides; the limit is
    // looked at again once it is over.
    if (transition_running) return AutoReturnStep::wait_for_transition;
    return AutoReturnStep::start;
}

}  // namespace offroot

namespace offroot {

namespace {

constexpr uint16_t kSshPort = 22;

}  // namespace

TimeLimitReport read_time_limits(const std::string& prefix, bool normal) {
    TimeLimitReport r;
    r.now = boottime_seconds();
    r.normal = normal;
    auto note = [&r](const Error& e) { r.error += (r.error.empty() ? "" : "; ") + e.message(); };
    if (auto a = read_time_limit(prefix + kAutoReturnRecord); !a) note(a.error());
    else if (!normal) r.automatic = *a;
    if (auto s = read_time_limit(prefix + kSshdReturnRecord); !s) note(s.error());
    else r.sshd = *s;
    if (r.sshd) {
        if (auto listening = tcp_port_listening(kSshPort, prefix); listening) r.sshd_listening = *listening;
        else note(listening.error());
    }
    return r;
}

std::string format_time_limits_human(const TimeLimitReport& r) {
    std::string out;
    if (const auto& a = r.automatic) {
        const int64_t left = seconds_left(*a, r.now);
        const std::string limit = format_duration(a->limit);
        if (!a->failed.empty()) {
            out += "automatic return FAILED (the time limit of " + limit + " ran out " + format_duration(-left) +
                   " ago): " + a->failed +
                   "\n  still DETACHED, the emergency session on port 1022 stays: fix it and run offroot return, "
                   "or offroot extend DURATION to have it tried again\n";
        } else if (a->started != 0) {
            out += "automatic return: started " + format_duration(r.now - a->started) + " ago (the time limit of " +
                   limit + " ran out)\n";
        } else if (left > 0) {
            out += "automatic return in " + format_duration(left) + " (time limit " + limit +
                   "): offroot extend DURATION to put it off, offroot confirm to call it off\n";
        } else {
            out += "automatic return: the time limit of " + limit + " ran out " + format_duration(-left) +
                   " ago; PID 1 starts offroot return once no transition runs\n";
        }
    } else if (!r.normal) {
        out += "automatic return: none (offroot extend DURATION sets a time limit)\n";
    }
    if (const auto& s = r.sshd) {
        const int64_t left = seconds_left(*s, r.now);
        const std::string limit = format_duration(s->limit);
        if (!r.sshd_listening) {
            out += "sshd on port 22: cannot tell whether it listens again\n";
        } else if (*r.sshd_listening) {
            out += "sshd on port 22: listening again since offroot return\n";
        } else if (left > 0) {
            out += "sshd on port 22: not listening yet, " + format_duration(left) + " left of the " + limit +
                   " offroot return gives it\n";
        } else {
            out += "sshd on port 22 did not come back within " + limit +
                   " of offroot return: the emergency session on port 1022 is still available\n";
        }
    }
    if (!r.error.empty()) out += "time limits: " + r.error + "\n";
    return out;
}

void add_time_limits_json(JsonWriter& j, const TimeLimitReport& r) {
    j.key("automatic_return");
    if (const auto& a = r.automatic) {
        j.begin_object().key("limit_seconds").value(a->limit).key("seconds_left").value(seconds_left(*a, r.now))
            .key("started").value(a->started != 0).key("failed");
        if (a->failed.empty()) j.null(); else j.value(a->failed);
        j.end_object();
    } else {
        j.null();
    }
    j.key("sshd_return");
    if (const auto& s = r.sshd) {
        j.begin_object().key("limit_seconds").value(s->limit).key("seconds_left").value(seconds_left(*s, r.now))
            .key("listening");
        if (r.sshd_listening) j.value(*r.sshd_listening); else j.null();
        j.key("overdue").value(r.sshd_listening && !*r.sshd_listening && seconds_left(*s, r.now) <= 0);
        j.end_object();
    } else {
        j.null();
    }
}

}  // namespace offroot
