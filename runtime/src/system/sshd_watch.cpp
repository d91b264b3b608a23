#include "system/sshd_watch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
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

// As start-dropbear starts it: in the sessions' bind of the environment
// when there is one (pivot, tmpfs), with '@' leading argv[0].
void start_dropbear() {
    auto options = read_file(kDropbearOptionsRecord);
    if (!options) {
        log_error("the emergency dropbear is gone, and " + std::string(kDropbearOptionsRecord) +
                  " is missing: cannot start it again");
        return;
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
        return;
    }
    if (child == 0) {
        if (in_bind && (::chroot(kEmergencyRootDir) != 0 || ::chdir("/") != 0)) ::_exit(126);
        ::execv(kDropbear, argv.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    // dropbear forks into the background; its first process exits 0.
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        log_error("the emergency dropbear did not start again (" + std::string(kDropbear) + " exited with " +
                  std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    else
        log_warning("the emergency dropbear was gone: started it again");
}

}  // namespace

[[noreturn]] void run_sshd_watch() {
    configure_log(LogSinks{.to_stderr = false, .to_kmsg = true, .ram_log = {}, .tag = "offroot-watch"});
    shield_from_oom(::getpid());
    for (;;) {
        // First a pause: the dropbear started just before us writes its
        // pidfile from its daemon, a moment after its start returned.
        std::this_thread::sleep_for(std::chrono::seconds(2));
        // No environment any more (rootfs deleted by the stock switch): no
        // dropbear to keep.
        if (!is_kept_rootfs("/")) ::_exit(0);
        if (!listener_alive()) {
            start_dropbear();
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        if (auto pid = read_pidfile(kDropbearPidfile)) shield_from_oom(*pid);
    }
}

std::vector<std::string> parse_dropbear_options(const std::string& record_text) {
    std::vector<std::string> out;
    for (auto word : split_fields(record_text, " \t\n")) out.emplace_back(word);
    return out;
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
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; null >= 0 && fd < 3; ++fd) ::dup2(null, fd);
    if (::chdir("/") != 0) ::_exit(1);
    (void)write_file(kSshdWatchPidfile, std::to_string(::getpid()) + "\n", O_CREAT | O_TRUNC | O_WRONLY, 0644);
    // argv[0] '@': systemd's killing sprees (soft-reboot, shutdown) spare it.
    char name[] = "@offroot-watch";
    char command[] = "watch-sshd";
    char* argv[] = {name, command, nullptr};
    char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    char* envp[] = {path, nullptr};
    ::execve("/usr/sbin/offroot", argv, envp);
    ::_exit(127);
}

}  // namespace offroot
