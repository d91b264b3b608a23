// Which init system PID 1 is: how its services stop and start, and how it
// is asked to re-execute itself.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace offroot {

enum class InitSystem { systemd, sysvinit, unknown };
std::string to_string(InitSystem init);

struct InitInfo {
    InitSystem kind = InitSystem::unknown;
    // The file PID 1 runs (symlinks resolved): the stub is bound over it,
    // since systemd re-executes its own binary, not /sbin/init.
    std::string binary;
    std::string reexec_command;  // "systemctl daemon-reexec" / "telinit u"
};

// systemd when /run/systemd/system exists (sd_booted()), sysvinit when PID
// 1's binary is sysvinit's init.
InitInfo detect_init_system(const std::string& pid1_exe, bool run_systemd_system_exists);
Result<InitInfo> detect_running_init();

// Where PID 1 looks for its binary when it re-executes, the one it runs
// first: systemd execs its compiled-in path (/lib/systemd/systemd up to
// Debian 12, /usr/lib/systemd/systemd after the /usr merge) and falls back
// to /sbin/init; sysvinit execs /sbin/init.
std::vector<std::string> reexec_paths(const InitInfo& init);

}  // namespace offroot
