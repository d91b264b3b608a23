#include "transitions/init_stub.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "kernel/chroot_escape.hpp"
#include "base/duration.hpp"
#include "base/files.hpp"
#include "kernel/kernel_cmdline.hpp"
#include "base/log.hpp"
#include "system/emergency.hpp"
#include "system/rootfs.hpp"
#include "system/sshd_watch.hpp"
#include "system/time_limit.hpp"
#include "system/transition_record.hpp"
#include "transitions/transition.hpp"

namespace offroot {
namespace {

constexpr time_t kWatchTickSeconds = 2;

void close_inherited_fds() {
    // systemd hands its serialized state over in fds; any of them open on
    // the disk would keep it busy.
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
    auto names = list_dir("/proc/self/fd");
    if (!names) return;
    for (const auto& n : *names) {
        int fd = std::atoi(n.c_str());
        if (fd > 2) ::close(fd);
    }
}

void reopen_console() noexcept {
    int fd = ::open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return;  // nothing to write to; kmsg may still work
    for (int std_fd = 0; std_fd < 3; ++std_fd) ::dup2(fd, std_fd);  // dup2 clears O_CLOEXEC
    if (fd > 2) ::close(fd);
}

// Ignored signals are set to SIG_IGN, which also discards any pending one,
// so nothing queued while we were PID 1 reaches the real init after exec.
void take_signals() noexcept {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD || sig == SIGUSR1) continue;
        ::sigaction(sig, &ignore, nullptr);  // EINVAL for the few that cannot be caught
    }
    sigset_t waited;
    ::sigemptyset(&waited);
    ::sigaddset(&waited, SIGCHLD);
    ::sigaddset(&waited, SIGUSR1);
    ::sigprocmask(SIG_SETMASK, &waited, nullptr);
}

// exec keeps SIG_IGN and the signal mask: give init a clean slate.
void release_signals() noexcept {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        ::sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void reap_children() noexcept {
    for (;;) {
        pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
        if (pid <= 0) return;
    }
}

bool root_is_rootfs() { return is_kept_rootfs("/"); }

// Climbing out of a chroot stops at rootfs: on kernels that mount rootfs
// on nullfs, the top of the namespace is an empty filesystem below it.
Result<struct stat> escape_to_rootfs() {
    return escape_chroot([]() { return is_kept_rootfs("."); });
}

void describe_root() {
    if (root_is_rootfs()) {
        log_info("PID 1 is offroot-init, running from rootfs; send SIGUSR1 once the root is mounted on top of / "
                 "or pivoted in");
    } else {
        log_error("offroot-init could not reach rootfs: its \"/\" is not the emergency environment; "
                  "it keeps running as PID 1 so that the system does not panic");
    }
}

// The real root is back: on top of "/" (move switch: enter it through
// "/..") or already our root (pivot switch: `offroot return` pivoted every
// process of rootfs into it). Become its init. Returns only when that could
// not be done; the stub then stays where it is.
void return_to_real_init(const InitStubOptions& options) {
    const bool pivoted_in = !root_is_rootfs();
    if (!pivoted_in) {
        auto here = stat_path("/");
        auto above = stat_path("/..");
        if (!here || !above) {
            log_error("SIGUSR1: cannot stat \"/\" or \"/..\"");
            return;
        }
        if (same_inode(*here, *above)) {
            log_error("SIGUSR1, but nothing is mounted on top of \"/\": mount the root and move it onto \"/\" first "
                      "(offroot return does this)");
            return;
        }
    }
    auto cmdline = KernelCmdline::read(options.cmdline_path);
    KernelCmdline args = cmdline ? *cmdline : KernelCmdline::parse("");
    if (!cmdline) log_warning("reading the kernel command line: " + cmdline.error().message() + "; using /sbin/init");
    const std::string init = args.init_path();
    std::vector<std::string> init_args = args.init_arguments();

    // Where to go back to when init cannot be started: the pivot switch's
    // undo is offroot return's (it pivots rootfs back), the move switch's
    // is our own escape.
    auto back_to_rootfs = [pivoted_in]() {
        if (pivoted_in) return;
        if (auto back = escape_to_rootfs(); !back) log_error("getting back to rootfs: " + back.error().message());
    };
    if (!pivoted_in && ::chroot("/..") != 0) {
        log_error(sys_error("chroot(\"/..\")").message());
        return;
    }
    if (::chdir("/") != 0) log_warning(sys_error("chdir(\"/\")").message());
    if (::access(init.c_str(), X_OK) != 0) {
        log_error(sys_error("access(" + quoted(init) + ", X_OK) in the returned root").message() +
                  "; staying in rootfs");
        back_to_rootfs();
        return;
    }
    log_info("handing PID 1 back to " + init);
    reap_children();
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(init.c_str()));
    for (auto& a : init_args) argv.push_back(a.data());
    argv.push_back(nullptr);
    char home[] = "HOME=/";
    char term[] = "TERM=linux";
    char* envp[] = {home, term, nullptr};
    release_signals();
    ::execve(init.c_str(), argv.data(), envp);
    int err = errno;
    take_signals();
    log_error(sys_error("execve(" + quoted(init) + ")", err).message() + "; staying in rootfs");
    back_to_rootfs();
}

// The automatic return (system/time_limit.hpp), looked at on every tick
// while "/" is the environment: once its deadline has passed and no
// transition runs, `offroot return` is started as the admin would type it,
// marked as ours (--time-limit-ran-out): under the transition lock it
// checks again that the limit still stands (an offroot extend or confirm
// may have come in between), records that it started, and why it failed
// if it did. The return itself is the admin's, step for step, SIGUSR1 to
// us included. Allocates nothing and throws nothing.
void watch_time_limit() noexcept {
    static int64_t started_for = 0;
    static bool said_waiting = false;
    char text[512];
    TimeLimitView record;
    // No limit (none set, or confirmed): the lock need not be probed.
    if (!read_time_limit_fixed(kAutoReturnRecord, text, sizeof text, record)) return;
    const AutoReturnStep step =
        auto_return_step(&record, boottime_seconds(), transition_lock_held(kTransitionLock), started_for);
    if (step == AutoReturnStep::nothing) return;
    if (step == AutoReturnStep::wait_for_transition) {
        if (!said_waiting)
            log_fixed(LogLevel::notice,
                      "the time limit ran out while an offroot transition runs: the automatic return waits for it",
                      kRamLog);
        said_waiting = true;
        return;
    }
    said_waiting = false;
    char limit[32];
    char line[256];
    std::snprintf(line, sizeof line,
                  "the time limit of %s ran out with no offroot extend or offroot confirm from the emergency "
                  "session: starting offroot return",
                  format_duration(record.limit, limit, sizeof limit));
    log_fixed(LogLevel::warning, line, kRamLog);
    const char* const args[] = {"offroot", "return", "--time-limit-ran-out", nullptr};
    if (start_offroot_from_pid1(args) < 0) {
        log_fixed(LogLevel::error, "fork() for the automatic return failed: tried again on the next tick", kRamLog);
        return;
    }
    // Its follower exits with the return; we reap it with the others.
    started_for = record.deadline;
}

// Written with no allocation: it runs when memory may be gone. Straight to
// kmsg and stderr: the log may not be configured yet.
void report_exception(const char* where) noexcept {
    char line[160];
    int n = std::snprintf(line, sizeof line, "<3>offroot-init: %s failed with an exception; still PID 1, waiting\n",
                          where);
    if (n <= 3 || static_cast<size_t>(n) >= sizeof line) return;
    int kmsg = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (kmsg >= 0) {
        (void)!::write(kmsg, line, static_cast<size_t>(n));
        ::close(kmsg);
    }
    (void)!::write(STDERR_FILENO, line + 3, static_cast<size_t>(n) - 3);
}

// Out of the chroot, off the disk's C library, onto the console.
void start_up(const InitStubOptions& options) {
    // Move switch: we start chrooted in the real root, moved aside to
    // rootfs:/root, and climb out. Pivot switch: enter's pivot_root has
    // already made rootfs our root, and climbing would lead past it to the
    // empty nullfs underneath.
    Status escaped;
    bool climbed_out = false;
    if (!root_is_rootfs()) {
        if (auto climbed = escape_to_rootfs(); !climbed) {
            escaped = climbed.error();
        } else {
            climbed_out = true;
        }
    }
    close_inherited_fds();
    // Started in the real root, the loader mapped the disk's ld.so and C
    // library into us, which would keep the disk busy: run again from the
    // environment, on its own. Our state so far is the signal set-up only,
    // which exec keeps. Should the exec fail, we stay as we are: enter then
    // finds the disk held by PID 1 and undoes itself.
    Status reexec;
    if (climbed_out && root_is_rootfs()) {
        const std::string self = std::string(kRootfsLibDir) + "/" + kInitStubName;
        std::string cmdline_env = "OFFROOT_CMDLINE=" + options.cmdline_path;
        char* argv[] = {const_cast<char*>(kInitStubName), nullptr};
        char* envp[] = {cmdline_env.data(), nullptr};
        ::execve(self.c_str(), argv, envp);
        reexec = sys_error("execve(" + quoted(self) + ") from rootfs");
    }
    reopen_console();
    configure_log(LogSinks{.to_stderr = true, .to_kmsg = true, .ram_log = {}, .tag = "offroot-init"});
    if (!escaped) log_error("leaving the chroot: " + escaped.error().message());
    if (!reexec) log_error(reexec.error().message() + ": still running on the disk's C library");
    describe_root();
}

}  // namespace

void run_init_stub(const InitStubOptions& options) {
    take_signals();
    // PID 1 must not exit, whatever fails before the loop: an exception
    // (a failed allocation among them) is reported without allocating,
    // and the stub goes on to the loop from wherever it is.
    // The environment we run in once started: the watcher is looked after
    // only while "/" is still it (a pivot switch's return moves the stub
    // into the real root before SIGUSR1, and nothing of the disk's may be
    // started from here).
    struct stat environment {};
    bool in_environment = false;
    try {
        start_up(options);
        in_environment = root_is_rootfs() && ::stat("/", &environment) == 0;
    } catch (...) {
        report_exception("starting up");
    }
    auto still_in_environment = [&]() noexcept {
        struct stat now {};
        return in_environment && ::stat("/", &now) == 0 && now.st_dev == environment.st_dev &&
               now.st_ino == environment.st_ino;
    };

    // From here on nothing allocates but the steps a signal asks for
    // (SIGUSR1's return), and those are caught.
    sigset_t waited;
    ::sigemptyset(&waited);
    ::sigaddset(&waited, SIGCHLD);
    ::sigaddset(&waited, SIGUSR1);
    // The watcher of the emergency dropbear is looked after every few
    // seconds, and at once when a child of ours ended (it is one); so is
    // the automatic return's deadline.
    const struct timespec tick {kWatchTickSeconds, 0};
    for (;;) {
        siginfo_t info{};
        int sig = ::sigtimedwait(&waited, &info, &tick);
        try {
            if (sig == SIGUSR1) {
                return_to_real_init(options);
            } else {
                // SIGCHLD, the tick (EAGAIN), EINTR.
                reap_children();
                if (still_in_environment()) {
                    keep_sshd_watch_alive();
                    watch_time_limit();
                }
            }
        } catch (...) {
            report_exception("a step");
            reap_children();
        }
        // Anything else: wait again. PID 1 never leaves.
    }
}

}  // namespace offroot
