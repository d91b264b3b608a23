#include "system/transition_record.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "base/files.hpp"
#include "base/log.hpp"
#include "base/text.hpp"

namespace offroot {

std::string serialize(const TransitionRecord& r) {
    std::string out = "TRANSITION=" + r.transition + "\nPID=" + std::to_string(r.pid) + "\nSTEP=" + r.step +
                      "\nSTARTED=" + std::to_string(r.started) + "\n";
    for (const auto& a : r.arguments) out += "ARG=" + a + "\n";
    return out;
}

Result<TransitionRecord> parse_transition_record(const std::string& text) {
    TransitionRecord r;
    for (const std::string_view line : split_lines(text)) {
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view key = line.substr(0, eq);
        const std::string value(line.substr(eq + 1));
        uint64_t number = 0;
        if (key == "TRANSITION") r.transition = value;
        if (key == "STEP") r.step = value;
        if (key == "ARG") r.arguments.push_back(value);
        if (key == "PID") {
            if (!parse_number(value, number) || number == 0 || number > 4194304)
                return plain_error("the transition record names no valid pid (" + quoted(value) + ")");
            r.pid = static_cast<pid_t>(number);
        }
        if (key == "STARTED") {
            if (!parse_number(value, number)) return plain_error("the transition record names no valid start (" + quoted(value) + ")");
            r.started = static_cast<int64_t>(number);
        }
    }
    if (r.transition.empty()) return plain_error("the transition record names no transition");
    if (r.pid == 0) return plain_error("the transition record names no pid");
    return r;
}

Result<TransitionLock> TransitionLock::acquire(const std::string& path) {
    auto fd = open_path(path, O_RDWR | O_CREAT | O_NOCTTY, 0600);
    if (!fd) return fd.error();
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) return sys_error("flock(" + quoted(path) + ", LOCK_EX|LOCK_NB)");
    return TransitionLock(std::move(*fd));
}

Result<TransitionState> read_transition_state(const std::string& prefix) {
    TransitionState state;
    const std::string lock_path = prefix + kTransitionLock;
    // A lock file that is not there was never taken: nothing runs.
    if (exists_nofollow(lock_path)) {
        auto fd = open_path(lock_path, O_RDONLY | O_NOCTTY);
        if (!fd) return fd.error();
        // A shared lock taken and let go at once: refused only while the
        // worker holds its exclusive one.
        if (::flock(fd->get(), LOCK_SH | LOCK_NB) == 0) {
            if (::flock(fd->get(), LOCK_UN) != 0) return sys_error("flock(" + quoted(lock_path) + ", LOCK_UN)");
        } else if (errno == EWOULDBLOCK) {
            state.running = true;
        } else {
            return sys_error("flock(" + quoted(lock_path) + ", LOCK_SH|LOCK_NB)");
        }
    }
    const std::string record_path = prefix + kTransitionRecord;
    if (exists_nofollow(record_path)) {
        auto text = read_file(record_path);
        if (!text) return text.error();
        auto record = parse_transition_record(*text);
        if (record) state.record = std::move(*record);
        else state.record_error = record.error().context(record_path).message();
    }
    return state;
}

bool transition_lock_held(const char* path) noexcept {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return false;
    // As read_transition_state probes it: a shared lock, let go at once.
    bool held = false;
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) (void)::flock(fd, LOCK_UN);
    else held = errno == EWOULDBLOCK;
    ::close(fd);
    return held;
}

std::string describe(const TransitionRecord& r) {
    char when[64] = "?";
    const time_t t = static_cast<time_t>(r.started);
    struct tm tm {};
    if (::gmtime_r(&t, &tm) != nullptr) ::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return r.transition + " (pid " + std::to_string(r.pid) + ") at step " + (r.step.empty() ? "?" : r.step) +
           ", started " + when;
}

namespace {

// The record of the transition this process runs, if it began one.
struct ActiveRecord {
    std::string path;
    TransitionRecord record;
};
std::optional<ActiveRecord> g_active;

// A reader (or a crash) never sees half a record.
Status write_record(const ActiveRecord& active) { return replace_file(active.path, serialize(active.record), 0600); }

}  // namespace

Status begin_transition_record(const std::string& path, TransitionRecord record) {
    if (record.step.empty()) record.step = "starting";
    ActiveRecord active{path, std::move(record)};
    if (auto s = write_record(active); !s) return s;
    g_active = std::move(active);
    return {};
}

void note_transition_step(const std::string& step) {
    if (!g_active) return;
    g_active->record.step = step;
    // The transition goes on without it: status then shows an older step.
    if (auto s = write_record(*g_active); !s) log_warning("updating the transition record: " + s.error().message());
}

void end_transition_record() {
    if (!g_active) return;
    if (::unlink(g_active->path.c_str()) != 0 && errno != ENOENT)
        log_warning("removing the transition record: " + sys_error("unlink(" + quoted(g_active->path) + ")").message());
    g_active.reset();
}

}  // namespace offroot
