// offroot's run-init: the last step of initramfs-tools' /init. Same command
// line as klibc's and busybox's run-init, and the same result for the real
// system, but the initramfs is not deleted: it is pruned to the emergency
// environment, which stays alive in rootfs underneath the real root.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct RunInitOptions {
    std::string new_root;
    std::string init;
    std::vector<std::string> init_args;  // after init on the command line
    std::string console;                 // -c
    std::string drop_caps;               // -d
    bool dry_run = false;                // -n
    // Fixed at boot; tests point them elsewhere through the environment.
    std::string cmdline_path = "/proc/cmdline";
    std::string manifest_path = "/etc/offroot/manifest";
    std::string root_switch_path = "/etc/offroot/root-switch";  // kRootSwitchRecord
};

inline constexpr const char* kRunInitUsage =
    "usage: run-init [-d caps] [-c console] [-n] newroot init [args...]";

Result<RunInitOptions> parse_run_init_args(const std::vector<std::string>& args);

// Checks what the switch needs, changes nothing: newroot is a mount
// point other than "/", "/" is a ramfs or tmpfs, init is executable inside
// newroot. -n does only this.
Status validate_switch(const RunInitOptions& options);

// Why the emergency environment is kept, or not: "" when it will be.
std::string reason_not_to_keep(const RunInitOptions& options);

// Does the switch and execs init; returns only on failure (PID 1 then
// exits and the kernel panics, exactly as with the stock run-init).
Error run_init(const RunInitOptions& options);

}  // namespace offroot
