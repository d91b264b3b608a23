#include "transitions/transition_worker.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "base/files.hpp"
#include "base/log.hpp"
#include "transitions/transition.hpp"

namespace offroot {
namespace {

// The signals a terminal or a vanished ssh session sends. The worker
// ignores them; the follower takes SIGHUP, SIGINT, SIGQUIT and SIGTERM as
// "stop following".
constexpr int kIgnoredByWorker[] = {SIGHUP, SIGPIPE, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
constexpr int kStopFollowing[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};

volatile sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int sig) { g_stop_signal = sig; }

// What the follower copies may go nowhere (the terminal is gone): that is
// no reason to stop, the worker's exit status is still to be had.
void write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data += n;
        size -= static_cast<size_t>(n);
    }
}

Status relay_new_lines(int from, const std::string& log_path) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(from, buf, sizeof buf);
        if (n == 0) return {};
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read(" + quoted(log_path) + ")");
        }
        write_all(STDOUT_FILENO, buf, static_cast<size_t>(n));
    }
}

std::string signal_name(int sig) {
    const char* name = ::sigabbrev_np(sig);
    return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(sig);
}

// The worker: never returns.
[[noreturn]] void worker_main(const WorkerSpec& spec, const std::function<int()>& work, int log_fd, int null_fd,
                              const sigset_t& old_mask) {
    // Ignored before the mask is lifted: one of these sent to the caller's
    // process group before setsid() is dropped, not acted on.
    for (int sig : kIgnoredByWorker) ::signal(sig, SIG_IGN);
    ::signal(SIGTERM, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    const bool stdio_ok = ::dup2(null_fd, STDIN_FILENO) >= 0 && ::dup2(log_fd, STDOUT_FILENO) >= 0 &&
                          ::dup2(log_fd, STDERR_FILENO) >= 0;
    if (!stdio_ok) {
        const std::string m = "offroot: " + sys_error("dup2(the log, stdout/stderr)").message() + "\n";
        write_all(log_fd, m.data(), m.size());
        ::_exit(1);
    }
    configure_log(LogSinks{.to_stderr = true, .to_kmsg = true, .ram_log = "", .tag = "offroot"});
    // A child of fork() is never a process group leader: setsid() cannot
    // fail with EPERM here, but a worker still in the caller's session
    // would die with it, so it is checked.
    if (::setsid() < 0) {
        log_error(spec.transition + ": " + sys_error("setsid()").message());
        ::_exit(1);
    }
    // The cwd may be on the disk enter frees.
    if (::chdir("/") != 0) {
        log_error(spec.transition + ": " + sys_error("chdir(\"/\")").message());
        ::_exit(1);
    }
    TransitionRecord record{spec.transition, ::getpid(), "starting", static_cast<int64_t>(::time(nullptr)),
                            spec.arguments};
    if (auto s = begin_transition_record(kTransitionRecord, record); !s) {
        log_error(spec.transition + ": writing the transition record: " + s.error().message());
        ::_exit(1);
    }
    const int code = work();
    end_transition_record();
    ::_exit(code);
}

}  // namespace

Result<std::string> refusal_if_running(const std::string& transition, const std::string& prefix) {
    auto state = read_transition_state(prefix);
    if (!state) return state.error();
    const std::string follow = "; follow it with: offroot status (its log: " + std::string(kRamLog) + ")";
    if (state->running) {
        if (!state->record)
            return "refusing to " + transition + ": another transition is running (it is just starting)" + follow;
        return "refusing to " + transition + ": offroot " + describe(*state->record) + ", is running" + follow;
    }
    return std::string();
}

Result<std::string> refusal_if_interrupted(const std::string& transition, const std::string& prefix,
                                           bool we_hold_the_lock) {
    auto state = read_transition_state(prefix);
    if (!state) return state.error();
    const bool worker_alive = state->running && !we_hold_the_lock;
    if (worker_alive || (!state->record && state->record_error.empty())) return std::string();
    return "refusing to " + transition + ": offroot " +
           (state->record ? describe(*state->record) : state->record_error) +
           ", was interrupted and never finished; run " + kRecoverCommand + " first";
}

Result<WorkerExit> run_in_worker(const WorkerSpec& spec, const std::function<int()>& work) {
    if (auto s = make_dir(kStateDir, 0700); !s) return s.error();
    std::optional<TransitionLock> lock;
    if (auto taken = TransitionLock::acquire(kTransitionLock); taken) {
        lock.emplace(std::move(*taken));
    } else if (taken.error().err == EWOULDBLOCK) {
        auto refusal = refusal_if_running(spec.transition);
        if (!refusal) return refusal.error();
        // Gone between the two looks: say so rather than nothing.
        return WorkerExit{kExitBusy, refusal->empty() ? "refusing to " + spec.transition +
                                                            ": another transition held the lock a moment ago; try again"
                                                      : *refusal};
    } else {
        return taken.error();
    }
    // With the lock held, a record is one that a dead worker left.
    if (!spec.replaces_interrupted) {
        auto refusal = refusal_if_interrupted(spec.transition, "", true);
        if (!refusal) return refusal.error();
        if (!refusal->empty()) return WorkerExit{1, *refusal};
    }

    auto log = open_followed_log(spec.log_path);
    if (!log) return log.error();

    Result<sigset_t> old_mask = block_follower_signals();
    if (!old_mask) return old_mask.error();
    const pid_t worker = ::fork();
    if (worker == 0) worker_main(spec, work, log->out.get(), log->null.get(), *old_mask);
    const int fork_errno = errno;
    // The worker holds the lock now; this process must not keep it held
    // after the worker died.
    lock.reset();
    log->out.reset();
    start_following(*old_mask);
    if (worker < 0) return sys_error("fork()", fork_errno);
    const std::string pid = std::to_string(worker);
    return follow_child(worker, log->in.get(), spec.log_path,
                        FollowWords{"the " + spec.transition + " worker (pid " + pid + ")",
                                    "offroot status says where it stopped, " + std::string(kRecoverCommand) +
                                        " finishes or undoes it",
                                    "offroot " + spec.transition + " goes on in pid " + pid +
                                        ". Follow it with: offroot status (log: " + spec.log_path + ")"});
}

Result<FollowedLog> open_followed_log(const std::string& path) {
    FollowedLog log;
    auto out = open_path(path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, 0600);
    if (!out) return out.error();
    log.out = std::move(*out);
    auto in = open_path(path, O_RDONLY | O_NOCTTY);
    if (!in) return in.error();
    log.in = std::move(*in);
    if (::lseek(log.in.get(), 0, SEEK_END) < 0) return sys_error("lseek(" + quoted(path) + ", 0, SEEK_END)");
    auto null = open_path("/dev/null", O_RDWR | O_NOCTTY);
    if (!null) return null.error();
    log.null = std::move(*null);
    return log;
}

Result<sigset_t> block_follower_signals() {
    sigset_t blocked, old_mask;
    ::sigemptyset(&blocked);
    for (int sig : kIgnoredByWorker) ::sigaddset(&blocked, sig);
    for (int sig : kStopFollowing) ::sigaddset(&blocked, sig);
    if (::sigprocmask(SIG_BLOCK, &blocked, &old_mask) != 0) return sys_error("sigprocmask(SIG_BLOCK)");
    return old_mask;
}

void start_following(const sigset_t& old_mask) {
    struct sigaction stop {};
    stop.sa_handler = on_stop_signal;
    ::sigemptyset(&stop.sa_mask);
    for (int sig : kStopFollowing) ::sigaction(sig, &stop, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
}

Result<WorkerExit> follow_child(pid_t child, int log_fd, const std::string& log_path, const FollowWords& words) {
    for (;;) {
        if (auto s = relay_new_lines(log_fd, log_path); !s) return s.error();
        int status = 0;
        const pid_t done = ::waitpid(child, &status, WNOHANG);
        if (done < 0 && errno != EINTR) return sys_error("waitpid(" + std::to_string(child) + ")");
        if (done == child) {
            if (auto s = relay_new_lines(log_fd, log_path); !s) return s.error();
            if (WIFEXITED(status)) return WorkerExit{WEXITSTATUS(status), ""};
            return WorkerExit{1, words.who + " was killed by " + signal_name(WTERMSIG(status)) + "; " + words.after_kill};
        }
        if (g_stop_signal != 0)
            return WorkerExit{kExitStoppedFollowing, "stopped following (" + signal_name(g_stop_signal) + "); " + words.goes_on};
        struct timespec pause {0, 100 * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
    }
}

}  // namespace offroot
