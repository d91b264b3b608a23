#include "base/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include "base/clock.hpp"
#include "base/fd.hpp"

namespace offroot {
namespace {

// The program and its environment, built before fork: the child may only
// make async-signal-safe calls. Neither copied nor moved: the pointers lead
// into its own strings.
class ExecImage {
public:
    explicit ExecImage(const Command& command) {
        for (const auto& a : command.argv) argv_.push_back(const_cast<char*>(a.c_str()));
        argv_.push_back(nullptr);
        envp_ = {path_.data(), lang_.data()};
        for (const auto& e : command.environment) envp_.push_back(const_cast<char*>(e.c_str()));
        envp_.push_back(nullptr);
    }
    ExecImage(const ExecImage&) = delete;
    ExecImage& operator=(const ExecImage&) = delete;
    // Returns only when it failed, errno saying why.
    void exec() const noexcept { ::execvpe(argv_[0], argv_.data(), envp_.data()); }

private:
    std::string path_ = "PATH=/usr/sbin:/usr/bin:/sbin:/bin", lang_ = "LC_ALL=C";
    std::vector<char*> argv_, envp_;
};

// In the child, before exec. An ignored signal stays ignored across exec:
// the transitions' worker ignores these (transition_worker.hpp), and the rc
// scripts, the daemons they start and the DHCP clients must not inherit
// that (a daemon started with SIGHUP or SIGPIPE ignored behaves otherwise).
void release_signals() noexcept {
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig : {SIGHUP, SIGPIPE, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU}) ::sigaction(sig, &default_action, nullptr);
}

}  // namespace

std::string describe(const Command& command) {
    std::string out;
    for (const auto& a : command.argv) {
        if (!out.empty()) out += ' ';
        out += a;
    }
    if (!command.chroot_dir.empty()) out += " (in " + command.chroot_dir + ")";
    return out;
}

Result<CommandResult> run_command(const Command& command) {
    if (command.argv.empty()) return plain_error("run_command: empty command");
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return sys_error("pipe2()");
    UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

    const ExecImage image(command);
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork() for " + describe(command));
    if (child == 0) {
        // Only async-signal-safe calls from here to exec.
        ::dup2(write_end.get(), STDOUT_FILENO);
        ::dup2(write_end.get(), STDERR_FILENO);
        int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
        if (!command.chroot_dir.empty() && (::chroot(command.chroot_dir.c_str()) != 0 || ::chdir("/") != 0)) ::_exit(126);
        release_signals();
        image.exec();
        ::_exit(127);
    }
    write_end.reset();

    CommandResult result;
    const double deadline = monotonic_seconds() + command.timeout_seconds;
    bool killed = false;
    for (;;) {
        int left_ms = static_cast<int>((deadline - monotonic_seconds()) * 1000);
        if (left_ms <= 0 && !killed) {
            ::kill(child, SIGKILL);
            killed = true;
            result.output += "\n[killed after " + std::to_string(command.timeout_seconds) + " s]\n";
        }
        struct pollfd pfd{read_end.get(), POLLIN, 0};
        int n = ::poll(&pfd, 1, killed ? 1000 : std::max(left_ms, 1));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (killed) break;
            continue;
        }
        char buf[4096];
        ssize_t got = ::read(read_end.get(), buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // every writer closed: the command (and its children) finished
        result.output.append(buf, static_cast<size_t>(got));
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return sys_error("waitpid(" + std::to_string(child) + ")");
    }
    if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127) && result.output.empty())
        return plain_error("cannot run " + describe(command) + " (not found, or no chroot into " + command.chroot_dir + ")");
    return result;
}

Status start_detached(const Command& command) {
    if (command.argv.empty()) return plain_error("start_detached: empty command");
    // The grandchild's report: its errno when it could not exec; nothing
    // (the write end closed by exec) when it runs.
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return sys_error("pipe2()");
    UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
    const ExecImage image(command);
    const pid_t child = ::fork();
    if (child < 0) return sys_error("fork() for " + describe(command));
    if (child == 0) {
        // Only async-signal-safe calls from here to exec. The first child
        // only forks: the daemon is then nobody's child but the init's.
        int report = write_end.get();
        auto fail = [&report](int code) {
            int err = errno;
            (void)::write(report, &err, sizeof err);
            ::_exit(code);
        };
        const pid_t daemon = ::fork();
        if (daemon < 0) fail(126);
        if (daemon > 0) ::_exit(0);
        // Not a group leader, as a new child: setsid cannot refuse it.
        if (::setsid() < 0) fail(126);
        if (!command.chroot_dir.empty() && (::chroot(command.chroot_dir.c_str()) != 0 || ::chdir("/") != 0)) fail(126);
        // The report pipe goes to fd 3 (close-on-exec), stdio to /dev/null,
        // everything above 3 is closed.
        if (report != 3) {
            if (::dup3(report, 3, O_CLOEXEC) < 0) fail(126);
            report = 3;
        }
        const int null = ::open("/dev/null", O_RDWR);
        if (null < 0) fail(126);
        for (int fd = 0; fd < 3; ++fd)
            if (fd != null && ::dup2(null, fd) < 0) fail(126);
        if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0) fail(126);
        release_signals();
        image.exec();
        fail(127);
    }
    write_end.reset();
    int status = 0;
    while (::waitpid(child, &status, 0) < 0)
        if (errno != EINTR) return sys_error("waitpid(" + std::to_string(child) + ")");
    int child_errno = 0;
    ssize_t got;
    do {
        got = ::read(read_end.get(), &child_errno, sizeof child_errno);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return sys_error("read(the report pipe of " + describe(command) + ")");
    if (got == sizeof child_errno)
        return Error{"execvpe(" + quoted(command.argv.front()) + ")" +
                         (command.chroot_dir.empty() ? "" : " in " + quoted(command.chroot_dir)),
                     child_errno, ""};
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return plain_error("the first child starting " + describe(command) + " failed (status " + std::to_string(status) + ")");
    return {};
}

}  // namespace offroot
