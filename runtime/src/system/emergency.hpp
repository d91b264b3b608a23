// The emergency environment kept in rootfs, and the state of the system
// around it: NORMAL (real init on the real root), DETACHED (offroot-init is
// PID 1, the disk is free) or in between.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "switches/root_switch.hpp"

namespace offroot {

// Written by the emergency dropbear started in the initramfs; /run is
// moved into the real root at boot, so both sides see it.
inline constexpr const char* kDropbearPidfile = "/run/offroot/dropbear.pid";
inline constexpr const char* kInitStubName = "offroot-init";
// root's home in rootfs is /var/lib/offroot: /root is where the real root
// gets mounted. The hook copies /etc/offroot/authorized_keys here.
inline constexpr const char* kRootfsAuthorizedKeys = "/var/lib/offroot/.ssh/authorized_keys";

enum class SystemState { normal, detached, transition, no_emergency_environment };
std::string to_string(SystemState state);

struct EmergencyEnvironment {
    // A way into rootfs from where we run: "/" when we run in it, else
    // "/proc/<pid>/root" of a process that lives there.
    std::string rootfs_path;
    bool we_run_in_rootfs = false;
    std::vector<pid_t> processes;  // every process whose root is rootfs
    std::optional<pid_t> dropbear;
    // How this boot changes roots (root_switch.hpp), as the initramfs
    // (or offroot arm) recorded it.
    RootSwitch root_switch = RootSwitch::move;
    const RootSwitcher& switcher() const { return switcher_for(root_switch); }
};

struct SystemStatus {
    SystemState state = SystemState::no_emergency_environment;
    std::string explanation;  // what made us decide, for humans
    pid_t pid1 = 1;
    std::string pid1_exe;
    std::optional<EmergencyEnvironment> emergency;
    std::optional<uint64_t> rootfs_bytes;
    // The real root is in place: on top of rootfs "/" (move), or PID 1's
    // root is not the environment (pivot, tmpfs).
    bool real_root_on_top = false;
    bool real_root_aside = false;      // rootfs:/root is a mount point
    bool pid1_is_stub = false;
    // NORMAL: the stub bound over files of the real root (stub_binds),
    // their paths in the real root.
    std::vector<std::string> stray_stub_binds;
};

// Where offroot's binaries sit inside rootfs.
inline constexpr const char* kRootfsLibDir = "/usr/lib/offroot";

// The pid a pidfile names; nothing when it is missing or not a pid.
std::optional<pid_t> read_pidfile(const std::string& path);

// For PID 1 (the init stub): `/usr/sbin/offroot ARGS...` (args[0] is its
// argv[0], the array ends with nullptr) started as a child of ours, in the
// sessions' bind of the environment when there is one (the pivot switch's
// return moves every process of rootfs, and a child started in the bind
// stays with the sessions), out of PID 1's signal set-up (everything
// ignored or blocked), in a session of its own, stdio on /dev/null. Its
// pid, or -1 when fork() failed (errno says why). Allocates nothing.
pid_t start_offroot_from_pid1(const char* const* args) noexcept;

// None found is not an error: the answer is "no emergency environment".
Result<std::optional<EmergencyEnvironment>> find_emergency_environment();
Result<SystemStatus> read_system_status();

// "/" when `rootfs_path` is "/", else rootfs_path + path.
std::string in_rootfs(const EmergencyEnvironment& env, const std::string& path);

// Where the real root's files and its mount table are, seen from where we
// run, while the real root is in place (NORMAL): from the real root itself
// {"", /proc/self/mountinfo}; from the environment, as its switch says
// (root_switch.hpp).
RealRootView real_root_view(const SystemStatus& status);

// The binds of the stub (`stub`, stat'ed from here) over files of the
// mount table `view.mountinfo` (whose root is `view.prefix` from here):
// what an enter killed between bind-stub and unbind-stub (move switch)
// leaves over the init's binary, so that the next boot or daemon-reexec
// would run offroot-init. Their mount points as the table has them, in
// table order (view.path() leads to one from here); a mount of
// the stub's device whose path leads to the stub's inode is one, whatever
// the stub's name is in its filesystem (a symlink's target is bound).
Result<std::vector<std::string>> stub_binds(const RealRootView& view, const struct stat& stub);
// Each unmounted lazily, as unbind-stub does, and said so (`who` leads the
// lines); the first failure stops and is returned.
Status remove_stub_binds(const RealRootView& view, const std::string& stub_path, const std::string& who);

}  // namespace offroot
