#include "system/sshd_watch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "base/files.hpp"
#include "base/log.hpp"
#include "base/text.hpp"
#include "kernel/mount.hpp"
#include "kernel/processes.hpp"
#include "switches/root_switch.hpp"
#include "system/emergency.hpp"
#include "system/rootfs.hpp"

namespace offroot {
namespace {

constexpr const char* kDropbear = "/usr/sbin/dropbear";

// Alive, and not a zombie that nobody has reaped yet (PID 1 reaps it; in
// a container or namespace, PID 1 may not).
bool listener_alive() {
    auto pid = read_pidfile(kDropbearPidfile);
    if (!pid || ::kill(*pid, 0) != 0) return false;
    auto stat = read_file("/proc/" + std::to_string(*pid) + "/stat");
    if (!stat) return false;
    auto parsed = parse_proc_stat(*stat);
    return parsed && parsed->comm.rfind("dropbear", 0) == 0 && parsed->state != 'Z' && parsed->state != 'X';
}

void shield_from_oom(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/oom_score_adj";
    if (auto now = read_file(path); now && now->rfind("-1000", 0) == 0) return;
    // Said once a process: a sandbox without CAP_SYS_RESOURCE refuses it
    // every time.
    static pid_t warned = 0;
    if (auto s = write_file(path, "-1000", O_TRUNC, 0); !s && warned != pid) {
        warned = pid;
        log_warning("shielding pid " + std::to_string(pid) + " from the OOM killer: " + s.error().message());
    }
}

// The sessions dropbear forks from the listener inherit its -1000. Kept,
// a tool of the admin's that takes all the memory (e2fsck of a large
// filesystem) could not be killed, and with nothing else killable the
// kernel panics. Every round puts the listener's descendants back to 0
// (raising needs no privilege): the OOM killer then takes the tool, and
// the listener stays for the next login. A process forked in the second
// before a round is caught by the next.
void release_sessions(pid_t listener) {
    std::vector<pid_t> todo{listener};
    for (size_t visited = 0; !todo.empty() && visited < 4096; ++visited) {
        const std::string pid = std::to_string(todo.back());
        todo.pop_back();
        auto children = read_file("/proc/" + pid + "/task/" + pid + "/children");
        if (!children) continue;
        for (pid_t child : parse_children(*children)) {
            const std::string path = "/proc/" + std::to_string(child) + "/oom_score_adj";
            if (auto now = read_file(path); now && now->rfind("-1000", 0) == 0) (void)write_file(path, "0", O_TRUNC, 0);
            todo.push_back(child);
        }
    }
}

// As start-dropbear starts it: in the sessions' bind of the environment
// when there is one (pivot, tmpfs), with '@' leading argv[0]. True when
// dropbear said it started (its first process exits 0 once it forked).
bool start_dropbear() {
    auto options = read_file(kDropbearOptionsRecord);
    if (!options) {
        log_error("the emergency dropbear is gone, and " + std::string(kDropbearOptionsRecord) +
                  " is missing: cannot start it again");
        return false;
    }
    std::vector<std::string> args{"@dropbear"};
    for (auto& a : parse_dropbear_options(*options)) args.push_back(std::move(a));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto bound = is_mount_point(kEmergencyRootDir);
    const bool in_bind = bound && *bound;
    pid_t child = ::fork();
    if (child < 0) {
        log_error(sys_error("fork() for the emergency dropbear").message());
        return false;
    }
    if (child == 0) {
        if (in_bind && (::chroot(kEmergencyRootDir) != 0 || ::chdir("/") != 0)) ::_exit(126);
        ::execv(kDropbear, argv.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_error("the emergency dropbear did not start again (" + std::string(kDropbear) + " exited with " +
                  std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
        return false;
    }
    return true;
}

// One round: false when the environment is gone (the watcher then ends).
bool watch_round(int& failed_starts, bool& started_last) {
    // No environment any more (rootfs deleted by the stock switch): no
    // dropbear to keep.
    if (!is_kept_rootfs("/")) return false;
    if (listener_alive()) {
        failed_starts = 0;
        started_last = false;
    } else {
        // The one we started last round is gone already: back off.
        if (started_last) ++failed_starts;
        const auto gone = read_pidfile(kDropbearPidfile);
        started_last = true;
        if (start_dropbear())
            log_warning("the emergency dropbear" + (gone ? " (pid " + std::to_string(*gone) + ")" : std::string()) +
                        " was gone: started it again" +
                        (failed_starts ? " (it died again " + std::to_string(failed_starts) + " times in a row)"
                                       : std::string()));
        // Its daemon writes the pidfile a moment after its start returned.
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    if (auto pid = read_pidfile(kDropbearPidfile)) {
        shield_from_oom(*pid);
        release_sessions(*pid);
    }
    return true;
}

}  // namespace

int sshd_restart_delay(int failed_starts) {
    int delay = 1;
    for (int i = 0; i < failed_starts && delay < 8; ++i) delay *= 2;
    return delay < 8 ? delay : 8;
}

[[noreturn]] void run_sshd_watch() {
    // A terminal that closes or a pipe that breaks must not end it; SIGTERM
    // does (offroot disarm), and its '@' name spares it systemd's sprees.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    for (int sig : {SIGHUP, SIGINT, SIGPIPE, SIGQUIT})
        if (::sigaction(sig, &ignore, nullptr) != 0) log_fixed(LogLevel::warning, "sigaction(SIG_IGN) failed");
    int failed_starts = 0;
    bool started_last = false;
    bool first = true;
    for (;;) {
        try {
            if (first) {
                configure_log(LogSinks{.to_stderr = false, .to_kmsg = true, .ram_log = {}, .tag = "offroot-watch"});
                shield_from_oom(::getpid());
                first = false;
            }
            // The dropbear started just before us writes its pidfile from
            // its daemon, a moment after its start returned: pause first.
            std::this_thread::sleep_for(std::chrono::seconds(started_last ? sshd_restart_delay(failed_starts) : 1));
            if (!watch_round(failed_starts, started_last)) ::_exit(0);
        } catch (...) {
            // A failed allocation among them: the next round may do better.
            log_fixed(LogLevel::error, "a round failed with an exception; still watching the emergency dropbear");
            struct timespec pause {1, 0};
            ::nanosleep(&pause, nullptr);
        }
    }
}

std::vector<pid_t> parse_children(const std::string& text) {
    std::vector<pid_t> out;
    for (auto word : split_fields(text, " \t\n")) {
        pid_t pid = 0;
        if (parse_number(word, pid) && pid > 0) out.push_back(pid);
    }
    return out;
}

std::vector<std::string> parse_dropbear_options(const std::string& record_text) {
    std::vector<std::string> out;
    for (auto word : split_fields(record_text, " \t\n")) out.emplace_back(word);
    return out;
}

namespace {

// The pid in a small pidfile, read without allocating; 0 when none.
pid_t read_pid_fixed(const char* path) noexcept {
    int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return 0;
    char text[24] = {};
    ssize_t n = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    pid_t pid = 0;
    for (ssize_t i = 0; i < n && text[i] >= '0' && text[i] <= '9' && pid < 100000000; ++i)
        pid = pid * 10 + (text[i] - '0');
    return pid;
}

// A live @offroot-watch: a zombie's or a stranger's command line (a pid
// reused) does not start with the name.
bool watcher_alive(pid_t pid) noexcept {
    char path[48];
    std::snprintf(path, sizeof path, "/proc/%d/cmdline", static_cast<int>(pid));
    int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return false;
    char cmdline[32] = {};
    ssize_t n = ::read(fd, cmdline, sizeof cmdline - 1);
    ::close(fd);
    return n > 0 && std::strncmp(cmdline, kSshdWatchName, std::strlen(kSshdWatchName)) == 0;
}

// `offroot watch-sshd` with stdio on /dev/null: as "offroot" it starts
// the watcher in the background, as kSshdWatchName it is the watcher.
[[noreturn]] void exec_watch_sshd(const char* argv0) noexcept {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; null >= 0 && fd < 3; ++fd) ::dup2(null, fd);
    char* argv[] = {const_cast<char*>(argv0), const_cast<char*>("watch-sshd"), nullptr};
    char* envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
    ::execve("/usr/sbin/offroot", argv, envp);
    ::_exit(127);
}

}  // namespace

bool sshd_watch_running() noexcept {
    const pid_t pid = read_pid_fixed(kSshdWatchPidfile);
    return pid > 1 && watcher_alive(pid);
}

void keep_sshd_watch_alive() noexcept {
    const pid_t pid = read_pid_fixed(kSshdWatchPidfile);
    if (pid <= 1 || watcher_alive(pid)) return;
    // At most every 3 s: a watcher that cannot start must not make PID 1
    // fork in a loop.
    static struct timespec last {};
    struct timespec now {};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (last.tv_sec != 0 && now.tv_sec - last.tv_sec < 3) return;
    last = now;
    const char* const args[] = {"offroot", "watch-sshd", nullptr};
    if (start_offroot_from_pid1(args) < 0) {
        log_fixed(LogLevel::error, "the emergency dropbear's watcher is gone, and fork() failed: not started again");
        return;
    }
    // Its first process exits at once; PID 1 reaps it with the others.
    log_fixed(LogLevel::warning, "the emergency dropbear's watcher was gone: started it again");
}

Status start_sshd_watch() {
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork()");
    if (child > 0) {
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        return {};
    }
    // Twice, so that the watcher is nobody's child but PID 1's.
    if (::fork() != 0) ::_exit(0);
    ::setsid();
    if (::chdir("/") != 0) ::_exit(1);
    (void)write_file(kSshdWatchPidfile, std::to_string(::getpid()) + "\n", O_CREAT | O_TRUNC | O_WRONLY, 0644);
    // argv[0] '@': systemd's killing sprees (soft-reboot, shutdown) spare it.
    exec_watch_sshd(kSshdWatchName);
}

}  // namespace offroot
