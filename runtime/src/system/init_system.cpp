#include "system/init_system.hpp"

#include <algorithm>

#include "base/files.hpp"

namespace offroot {

std::string to_string(InitSystem init) {
    switch (init) {
        case InitSystem::systemd: return "systemd";
        case InitSystem::sysvinit: return "sysvinit";
        case InitSystem::unknown: return "unknown";
    }
    return "unknown";
}

InitInfo detect_init_system(const std::string& pid1_exe, bool run_systemd_system_exists) {
    InitInfo info;
    info.binary = pid1_exe;
    const std::string suffix = " (deleted)";
    if (info.binary.size() > suffix.size() &&
        info.binary.compare(info.binary.size() - suffix.size(), suffix.size(), suffix) == 0)
        info.binary.resize(info.binary.size() - suffix.size());
    const std::string base = info.binary.substr(info.binary.rfind('/') + 1);
    if (run_systemd_system_exists && base == "systemd") {
        info.kind = InitSystem::systemd;
        info.reexec_command = "systemctl daemon-reexec";
    } else if (!run_systemd_system_exists && base == "init") {
        info.kind = InitSystem::sysvinit;
        info.reexec_command = "telinit u (written to /run/initctl)";
    }
    return info;
}

Result<InitInfo> detect_running_init() {
    auto exe = read_link("/proc/1/exe");
    if (!exe) return exe.error().context("finding PID 1's binary");
    return detect_init_system(*exe, exists_nofollow("/run/systemd/system"));
}

std::vector<std::string> reexec_paths(const InitInfo& init) {
    std::vector<std::string> paths{init.binary};
    if (init.kind == InitSystem::systemd) {
        paths.push_back("/usr/lib/systemd/systemd");
        paths.push_back("/lib/systemd/systemd");
    }
    paths.push_back("/sbin/init");
    std::vector<std::string> unique;
    for (const auto& p : paths)
        if (!p.empty() && std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(p);
    return unique;
}

}  // namespace offroot
