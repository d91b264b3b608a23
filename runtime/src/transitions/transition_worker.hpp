// enter and return run in a worker of their own, out of reach of the
// session that typed them: a new session (no controlling terminal, so no
// SIGHUP when the ssh connection drops, no SIGINT from Ctrl-C), SIGHUP,
// SIGPIPE, SIGINT, SIGQUIT and SIGTSTP ignored, stdin /dev/null, stdout and
// stderr the log in RAM (a file: no reader can go away under it, no
// EPIPE). The command the admin typed only follows: it copies the log's new
// lines as they come, exits with the worker's exit code, and when it is
// interrupted (Ctrl-C, SIGHUP, SIGTERM) stops following and says so; the
// transition goes on.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "base/fd.hpp"
#include "base/result.hpp"
#include "system/transition_record.hpp"

namespace offroot {

// Exit codes of a transition's command, beside 0 (done), 1 (refused or
// failed) and 2 (bad usage).
inline constexpr int kExitBusy = 3;            // another transition runs
inline constexpr int kExitStoppedFollowing = 4;  // interrupted: the worker goes on

struct WorkerSpec {
    std::string transition;               // "enter", "return": the record's name
    std::vector<std::string> arguments;   // recorded, for recover
    std::string log_path;                 // the worker's output, appended
    // recover's worker: it takes over the record of the interrupted
    // transition instead of refusing because of it.
    bool replaces_interrupted = false;
};

struct WorkerExit {
    int code = 0;
    // One line for stderr, when there is something to say: why it refused
    // (kExitBusy: another one runs), that the follower stopped following,
    // or how the worker died.
    std::string message;
};

// "refusing to enter: offroot return (pid 412) at step mount-root, started
// ..., is running" with the way to follow it; empty when none runs.
Result<std::string> refusal_if_running(const std::string& transition, const std::string& prefix = "");
// "refusing to enter: offroot enter (...), was interrupted and never
// finished; run offroot recover first" (exit 1); empty when no record of an
// interrupted transition is there. `we_hold_the_lock`: the caller took the
// lock, so any record there is a dead worker's.
Result<std::string> refusal_if_interrupted(const std::string& transition, const std::string& prefix = "",
                                           bool we_hold_the_lock = false);

// Takes the lock (or refuses), starts the worker, which records its
// progress and runs `work` (its return value is the worker's exit code),
// and follows its log on stdout until it ends or the follower is
// interrupted.
Result<WorkerExit> run_in_worker(const WorkerSpec& spec, const std::function<int()>& work);

// The log a child writes and its follower reads: `out` for the child's
// stdout or stderr (appended, created 0600), `in` at the log's end, so that
// only what the child writes is followed, not the earlier runs; `null` for
// the child's stdin.
struct FollowedLog {
    UniqueFd out, in, null;
};
Result<FollowedLog> open_followed_log(const std::string& path);

// The follower's parts, for a child that is not a worker of ours (enter
// handed over from a disk session to rootfs, transition_enter.cpp).
// Blocked across fork(): a Ctrl-C in between neither kills the follower
// before its handlers are in place nor reaches the child before it has
// left the session. Returns the mask to restore.
Result<sigset_t> block_follower_signals();
// In the parent after fork(): SIGHUP, SIGINT, SIGQUIT and SIGTERM stop the
// following, SIGPIPE is ignored, the mask is restored.
void start_following(const sigset_t& old_mask);
// How follow_child speaks of the child: "<who> was killed by SIGKILL;
// <after_kill>", "stopped following (SIGHUP); <goes_on>".
struct FollowWords {
    std::string who;
    std::string after_kill;
    std::string goes_on;
};
// Copies what is appended to the log behind `log_fd` (from its offset) to
// stdout until `child` exits (its exit code is the result) or a stop
// signal comes (kExitStoppedFollowing).
Result<WorkerExit> follow_child(pid_t child, int log_fd, const std::string& log_path, const FollowWords& words);

}  // namespace offroot
