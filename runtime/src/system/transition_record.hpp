// The transition that runs (enter, return): one at a time, and what it is
// doing, for `offroot status` and for a second command that must refuse.
//
// The lock is flock(2) on a file in the emergency environment's RAM: the
// kernel releases it when the worker that holds it dies, even by SIGKILL,
// so a held lock always means a live transition. The progress record beside
// it (transition, pid, step, start) outlives a crash: a record whose lock is
// free names a transition interrupted at that step, for `offroot recover`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.hpp"
#include "base/result.hpp"

namespace offroot {

inline constexpr const char* kTransitionLock = "/var/lib/offroot/transition.lock";
inline constexpr const char* kTransitionRecord = "/var/lib/offroot/transition";

struct TransitionRecord {
    std::string transition;  // "enter", "return"
    pid_t pid = 0;           // the worker that runs it
    std::string step;        // the step it is at; "starting" before the first
    int64_t started = 0;     // wall clock, seconds since the epoch
    // The command's own options, one word each ("--root", "/dev/vdb"): what
    // recover needs to run it again.
    std::vector<std::string> arguments;
};

std::string serialize(const TransitionRecord& record);
Result<TransitionRecord> parse_transition_record(const std::string& text);

// The lock, held for as long as this object (and every fork that inherited
// its fd) lives. acquire() fails with err == EWOULDBLOCK when another
// process holds it.
class TransitionLock {
public:
    static Result<TransitionLock> acquire(const std::string& path);
    int fd() const { return fd_.get(); }

private:
    explicit TransitionLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// What the lock and the record say, read through `prefix` (a way into the
// emergency environment: "" when we run in it, else /proc/<pid>/root).
struct TransitionState {
    std::optional<TransitionRecord> record;
    bool running = false;      // the lock is held
    std::string record_error;  // a record that is there but unreadable
    bool interrupted() const { return record && !running; }
};
Result<TransitionState> read_transition_state(const std::string& prefix = "");

// For PID 1 (the init stub): a transition holds the lock at `path` now.
// Allocates nothing. A lock file that cannot be opened or probed counts as
// free: the transition PID 1 would start takes the lock itself, and
// refuses when it cannot.
bool transition_lock_held(const char* path) noexcept;

// "enter (pid 412) at step stop-services, started 2026-12-01 17:02:11 UTC"
std::string describe(const TransitionRecord& record);

// The command that finishes or undoes an interrupted transition.
inline constexpr const char* kRecoverCommand = "offroot recover";

// The worker's side: the record is written when the transition starts,
// rewritten at each step, and removed when the transition is over (done, or
// failed and undone). note_transition_step() does nothing in a process that
// began none, so the steps can call it unconditionally.
Status begin_transition_record(const std::string& path, TransitionRecord record);
void note_transition_step(const std::string& step);
void end_transition_record();

}  // namespace offroot
