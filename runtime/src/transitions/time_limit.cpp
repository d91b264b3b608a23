// The automatic return and the admin's hold on it: the one file where the
// time limit of `offroot enter --timeout` changes hands. See transition.hpp
// and system/time_limit.hpp; PID 1's side is watch_time_limit() in
// init_stub.cpp.
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

#include "base/duration.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "system/emergency.hpp"
#include "system/time_limit.hpp"
#include "system/transition_record.hpp"
#include "transitions/transition.hpp"
#include "transitions/transition_worker.hpp"

namespace offroot {

namespace {

// The lock every transition takes: extend and confirm hold it for their
// write, so that an automatic return deciding under it sees the limit as
// it stands, never one changed under its feet.
Result<TransitionLock> hold_for(const std::string& command) {
    if (auto s = make_dir(kStateDir, 0700); !s) return s.error();
    auto lock = TransitionLock::acquire(kTransitionLock);
    if (lock) return lock;
    if (lock.error().err != EWOULDBLOCK) return lock.error();
    auto refusal = refusal_if_running(command);
    Error busy = plain_error(refusal && !refusal->empty() ? *refusal
                                                          : "refusing to " + command + ": a transition holds the lock");
    busy.err = EWOULDBLOCK;
    return busy;
}

// The system's status, read once, for a command that runs only in the
// emergency environment.
Result<SystemStatus> status_in_environment(const std::string& command) {
    auto status = read_system_status();
    if (!status) return status.error();
    if (!status->emergency || !status->emergency->we_run_in_rootfs)
        return plain_error("offroot " + command + " runs in the emergency environment",
                           "ssh -p 1022 root@this-host, then offroot " + command);
    return status;
}

}  // namespace

Status automatic_return(const ReturnOptions& options) {
    // The worker holds the lock: what the record says now is final.
    auto limit = read_time_limit(kAutoReturnRecord);
    if (!limit) return limit.error().context("the automatic return");
    const int64_t now = boottime_seconds();
    if (!*limit) {
        log_info("return: the automatic return was called off (offroot confirm) just before it started: still DETACHED");
        return {};
    }
    TimeLimit t = **limit;
    if (const int64_t left = seconds_left(t, now); left > 0) {
        log_info("return: the time limit was set again (offroot extend) just before it ran out: " + format_duration(left) +
                 " left, still DETACHED");
        return {};
    }
    if (t.started != 0) {
        log_info("return: the automatic return for this time limit was started already: not again");
        return {};
    }
    t.started = now;
    if (auto s = write_time_limit(kAutoReturnRecord, t); !s)
        return s.error().context("recording that the automatic return starts, still DETACHED");
    log_warning("return: started by offroot-init: the time limit of " + format_duration(t.limit) + " ran out " +
                format_duration(now - t.deadline) + " ago, with no offroot extend or offroot confirm from the emergency session");
    auto returned = return_to_root(options);
    if (returned) return returned;
    t.failed = returned.error().message();
    if (auto s = write_time_limit(kAutoReturnRecord, t); !s)
        log_warning("recording why the automatic return failed: " + s.error().message());
    return returned.error().context("the automatic return failed, the host stays DETACHED (port 1022 answers)");
}

void note_automatic_return_refused(const std::string& why) {
    auto limit = read_time_limit(kAutoReturnRecord);
    // Gone or set again meanwhile: nothing failed that status must show.
    if (!limit || !*limit || seconds_left(**limit, boottime_seconds()) > 0 || !(*limit)->failed.empty()) return;
    TimeLimit t = **limit;
    t.failed = why;
    if (auto s = write_time_limit(kAutoReturnRecord, t); !s)
        log_warning("recording why the automatic return did not start: " + s.error().message());
}

Result<std::string> extend_time_limit(int64_t seconds) {
    auto status = status_in_environment("extend");
    if (!status) return status.error();
    if (status->state != SystemState::detached)
        return plain_error("the system is " + to_string(status->state) +
                               ": the time limit is for a stay off the disk (DETACHED), nothing to extend",
                           "offroot enter --timeout DURATION sets one");
    auto lock = hold_for("extend");
    if (!lock) return lock.error();
    auto before = read_time_limit(kAutoReturnRecord);
    if (!before) return before.error();
    const int64_t now = boottime_seconds();
    if (auto s = write_time_limit(kAutoReturnRecord, time_limit_from(now, seconds)); !s)
        return s.error().context("offroot extend, the time limit is as it was");
    std::string said = "the automatic return starts in " + format_duration(seconds);
    if (!*before) said += " (there was no time limit)";
    else if (!(*before)->failed.empty()) said += " (it is tried again; it failed: " + (*before)->failed + ")";
    else said += " (" + format_duration(seconds_left(**before, now) > 0 ? seconds_left(**before, now) : 0) + " were left)";
    said += "; offroot confirm calls it off";
    log_info("extend: " + said);
    return said;
}

Result<std::string> confirm_time_limit() {
    if (auto status = status_in_environment("confirm"); !status) return status.error();
    auto lock = hold_for("confirm");
    if (!lock) return lock.error();
    auto before = read_time_limit(kAutoReturnRecord);
    if (!before) return before.error();
    if (!*before) return std::string("no time limit is set, nothing to confirm");
    if (auto s = remove_time_limit(kAutoReturnRecord); !s)
        return s.error().context("offroot confirm, the time limit still stands");
    const std::string said = "no automatic return; the host stays DETACHED until offroot return";
    log_info("confirm: " + said);
    return said;
}

}  // namespace offroot
