#include "system/emergency.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "base/files.hpp"
#include "base/log.hpp"
#include "kernel/mount.hpp"
#include "kernel/mountinfo.hpp"
#include "kernel/processes.hpp"
#include "system/rootfs.hpp"

namespace offroot {

std::string to_string(SystemState state) {
    switch (state) {
        case SystemState::normal: return "NORMAL";
        case SystemState::detached: return "DETACHED";
        case SystemState::transition: return "TRANSITION";
        case SystemState::no_emergency_environment: return "NO-EMERGENCY-ENVIRONMENT";
    }
    return "UNKNOWN";
}

std::string in_rootfs(const EmergencyEnvironment& env, const std::string& path) {
    return env.rootfs_path == "/" ? path : env.rootfs_path + path;
}

RealRootView real_root_view(const SystemStatus& status) {
    if (!status.emergency || !status.emergency->we_run_in_rootfs) return {"", "/proc/self/mountinfo"};
    return status.emergency->switcher().real_root_from_environment();
}

Result<std::vector<std::string>> stub_binds(const RealRootView& view, const struct stat& stub) {
    auto table = MountTable::read(view.mountinfo);
    if (!table) return table.error();
    std::vector<std::string> out;
    for (const MountEntry* m : table->mounts_of_device(stub.st_dev)) {
        // The environment's own mount (its root "/") holds the stub but is
        // no bind over anything.
        if (m->root == "/") continue;
        auto there = stat_path(view.path(m->mount_point));
        if (there && same_inode(*there, stub) && std::find(out.begin(), out.end(), m->mount_point) == out.end())
            out.push_back(m->mount_point);
    }
    return out;
}

Status remove_stub_binds(const RealRootView& view, const std::string& stub_path, const std::string& who) {
    auto stub = stat_path(stub_path);
    if (!stub) return stub.error().context("finding the binds of the stub");
    auto binds = stub_binds(view, *stub);
    if (!binds) return binds.error().context("finding the binds of the stub");
    for (const auto& mount_point : *binds) {
        if (auto s = unmount(view.path(mount_point), MNT_DETACH); !s)
            return s.error().context("removing the bind of offroot-init over " + mount_point + " (umount -l it by hand)");
        log_info(who + ": removed the bind of offroot-init over " + mount_point +
                 " that an interrupted enter left (the next boot or re-exec of the init would have run offroot-init)");
    }
    return {};
}

namespace {

bool is_mount_root(const char* path) noexcept {
    struct statx stx {};
    return ::statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
           (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

}  // namespace

pid_t start_offroot_from_pid1(const char* const* args) noexcept {
    const pid_t child = ::fork();
    if (child != 0) return child;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setsid();
    if (is_mount_root(kEmergencyRootDir) && (::chroot(kEmergencyRootDir) != 0 || ::chdir("/") != 0)) ::_exit(126);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; null >= 0 && fd < 3; ++fd) ::dup2(null, fd);
    char* envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
    ::execve("/usr/sbin/offroot", const_cast<char* const*>(args), envp);
    ::_exit(127);
}

std::optional<pid_t> read_pidfile(const std::string& path) {
    auto text = read_file(path);
    if (!text) return std::nullopt;
    pid_t pid = static_cast<pid_t>(std::atoi(text->c_str()));
    return pid > 0 ? std::optional<pid_t>(pid) : std::nullopt;
}

Result<std::optional<EmergencyEnvironment>> find_emergency_environment() {
    auto own_root = stat_path("/");
    if (!own_root) return own_root.error();
    const bool in_rootfs_now = is_kept_rootfs("/");

    ScanOptions light;
    light.with_files = false;
    auto processes = scan_processes(light);
    if (!processes) return processes.error();

    EmergencyEnvironment env;
    env.we_run_in_rootfs = in_rootfs_now;
    if (in_rootfs_now) env.rootfs_path = "/";

    // Many processes share one root: decide once per root.
    std::map<std::pair<dev_t, ino_t>, bool> verdict;
    std::vector<const Process*> members;
    for (const auto& p : *processes) {
        if (p.kernel_thread || !p.root_id) continue;
        const auto key = std::make_pair(p.root_id->dev, p.root_id->ino);
        auto it = verdict.find(key);
        if (it == verdict.end()) {
            bool is_rootfs;
            if (in_rootfs_now) {
                is_rootfs = p.root_id->dev == own_root->st_dev && p.root_id->ino == own_root->st_ino;
            } else {
                is_rootfs = !(p.root_id->dev == own_root->st_dev && p.root_id->ino == own_root->st_ino) &&
                            is_kept_rootfs("/proc/" + std::to_string(p.stat.pid) + "/root");
            }
            it = verdict.emplace(key, is_rootfs).first;
        }
        if (!it->second) continue;
        members.push_back(&p);
        env.processes.push_back(p.stat.pid);
    }
    // PID 1 (the stub) lives in rootfs once DETACHED; it is no door for us.
    if (members.empty() && !in_rootfs_now) return std::optional<EmergencyEnvironment>();

    if (!in_rootfs_now) {
        auto door = std::find_if(members.begin(), members.end(), [](const Process* p) { return p->stat.pid != 1; });
        env.rootfs_path = "/proc/" + std::to_string((door != members.end() ? *door : members.front())->stat.pid) + "/root";
    }

    env.root_switch = read_root_switch(in_rootfs(env, kRootSwitchRecord));

    // The pidfile names the listener; without it, the oldest dropbear
    // (sessions are its children) is the one.
    if (auto pid = read_pidfile(kDropbearPidfile);
        pid && std::count(env.processes.begin(), env.processes.end(), *pid)) {
        env.dropbear = *pid;
    } else {
        for (const Process* p : members) {
            if (p->stat.comm != "dropbear") continue;
            if (!env.dropbear || p->stat.pid < *env.dropbear) env.dropbear = p->stat.pid;
        }
    }
    return std::optional<EmergencyEnvironment>(std::move(env));
}

Result<SystemStatus> read_system_status() {
    SystemStatus status;
    if (auto exe = read_link("/proc/1/exe"); exe) status.pid1_exe = *exe;

    auto env = find_emergency_environment();
    if (!env) return env.error();
    if (!*env) {
        status.state = SystemState::no_emergency_environment;
        status.explanation =
            "no process lives in a kept rootfs: the system was booted without offroot's initramfs "
            "(hook not installed, initramfs not rebuilt, or offroot=off on the kernel command line); "
            "offroot arm makes one now";
        return status;
    }
    const EmergencyEnvironment& e = **env;

    auto pid1_exe = stat_path("/proc/1/exe");
    auto stub = stat_path(in_rootfs(e, std::string(kRootfsLibDir) + "/" + kInitStubName));
    status.pid1_is_stub = pid1_exe && stub && same_inode(*pid1_exe, *stub);

    const RootPlacement placement = e.switcher().locate(e.rootfs_path, e.we_run_in_rootfs);
    status.real_root_on_top = placement.real_root_on_top;
    auto aside = is_mount_point(placement.environment_mount + "/root");
    status.real_root_aside = aside && *aside;

    if (!status.pid1_is_stub && status.real_root_on_top && !status.real_root_aside) {
        status.state = SystemState::normal;
        status.explanation = "the real init is PID 1 on the real root; the emergency environment waits in rootfs";
    } else if (status.pid1_is_stub && !status.real_root_on_top && !status.real_root_aside) {
        status.state = SystemState::detached;
        status.explanation = "offroot-init is PID 1 in rootfs and no root filesystem is mounted";
    } else {
        status.state = SystemState::transition;
        status.explanation = std::string("PID 1 is ") + (status.pid1_is_stub ? "offroot-init" : "the real init") +
                             ", the real root is " +
                             (status.real_root_on_top ? "on top of /" : status.real_root_aside ? "at /root in rootfs" : "not mounted") +
                             (status.real_root_on_top && status.real_root_aside ? " and a root is also at /root" : "");
    }
    status.emergency = std::move(**env);
    if (status.state == SystemState::normal && stub)
        if (auto binds = stub_binds(real_root_view(status), *stub); binds) status.stray_stub_binds = std::move(*binds);
    if (auto bytes = tree_usage_bytes(in_rootfs(*status.emergency, "/")); bytes) status.rootfs_bytes = *bytes;
    return status;
}

}  // namespace offroot
