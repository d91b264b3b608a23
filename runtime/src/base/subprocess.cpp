#include "base/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "base/clock.hpp"
#include "base/fd.hpp"

namespace offroot {

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

    // Built before fork: the child may only make async-signal-safe calls.
    std::vector<char*> argv;
    for (const auto& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::string path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin", lang = "LC_ALL=C";
    std::vector<char*> envp{path.data(), lang.data()};
    for (const auto& e : command.environment) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    pid_t child = ::fork();
    if (child < 0) return sys_error("fork() for " + describe(command));
    if (child == 0) {
        // Only async-signal-safe calls from here to exec.
        ::dup2(write_end.get(), STDOUT_FILENO);
        ::dup2(write_end.get(), STDERR_FILENO);
        int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
        if (!command.chroot_dir.empty() && (::chroot(command.chroot_dir.c_str()) != 0 || ::chdir("/") != 0)) ::_exit(126);
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        // An ignored signal stays ignored across exec: the transitions'
        // worker ignores these (transition_worker.hpp), and the rc scripts,
        // the daemons they start and the DHCP clients must not inherit that
        // (a daemon started with SIGHUP or SIGPIPE ignored behaves otherwise).
        struct sigaction default_action {};
        default_action.sa_handler = SIG_DFL;
        for (int sig : {SIGHUP, SIGPIPE, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU})
            ::sigaction(sig, &default_action, nullptr);
        ::execvpe(argv[0], argv.data(), envp.data());
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

}  // namespace offroot
