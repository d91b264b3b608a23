// Running another program: the init system's own tools (systemctl, the rc
// scripts, telinit) inside the real root, and busybox's ip in rootfs.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct Command {
    std::vector<std::string> argv;  // argv[0] is looked up in the standard PATH
    std::string chroot_dir;         // run inside this root ("" = ours)
    int timeout_seconds = 120;      // then SIGKILL: a hung tool must not hang enter
    // NAME=value, after the fixed PATH and LC_ALL=C.
    std::vector<std::string> environment = {};
};

struct CommandResult {
    int exit_status = -1;  // -1 when killed by a signal or the timeout
    std::string output;    // stdout and stderr together
    bool ok() const { return exit_status == 0; }
};

// Fails only when the program could not be run at all; a non-zero exit is
// in the result, for the caller to judge.
Result<CommandResult> run_command(const Command& command);

// Starts a daemon that must outlive us and owe us nothing: not our child
// (forked twice), in a session of its own, stdin, stdout and stderr on
// /dev/null, no other descriptor of ours, signals at their defaults,
// inside `chroot_dir`; `timeout_seconds` is not used. Fails when it could
// not be executed (the errno of execvpe comes back through a pipe); what it
// does afterwards is its own business.
Status start_detached(const Command& command);

// "systemctl isolate x" for messages.
std::string describe(const Command& command);

}  // namespace offroot
