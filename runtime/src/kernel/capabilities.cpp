#include "kernel/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "base/text.hpp"

namespace offroot {
namespace {

// Index = capability number, as in <linux/capability.h>.
constexpr std::array<const char*, 41> kCapNames = {
    "chown",         "dac_override",     "dac_read_search", "fowner",       "fsetid",
    "kill",          "setgid",           "setuid",          "setpcap",      "linux_immutable",
    "net_bind_service", "net_broadcast", "net_admin",       "net_raw",      "ipc_lock",
    "ipc_owner",     "sys_module",       "sys_rawio",       "sys_chroot",   "sys_ptrace",
    "sys_pacct",     "sys_admin",        "sys_boot",        "sys_nice",     "sys_resource",
    "sys_time",      "sys_tty_config",   "mknod",           "lease",        "audit_write",
    "audit_control", "setfcap",          "mac_override",    "mac_admin",    "syslog",
    "wake_alarm",    "block_suspend",    "audit_read",      "perfmon",      "bpf",
    "checkpoint_restore",
};

}  // namespace

Result<std::vector<int>> parse_capability_list(const std::string& list) {
    std::vector<int> caps;
    for (std::string_view field : split_fields(list, ",")) {
        std::string name(field);
        std::string lower;
        for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower.rfind("cap_", 0) == 0) lower.erase(0, 4);

        int number = -1;
        if (!parse_number(lower, number)) {
            auto it = std::find_if(kCapNames.begin(), kCapNames.end(), [&](const char* n) { return lower == n; });
            number = it == kCapNames.end() ? -1 : static_cast<int>(it - kCapNames.begin());
        }
        if (number < 0 || number > 63)
            return plain_error("unknown capability " + quoted(name), "use names such as cap_sys_module");
        caps.push_back(number);
    }
    return caps;
}

Status drop_capabilities(const std::vector<int>& caps) {
    for (int cap : caps) {
        // EINVAL: the running kernel does not know this capability, so
        // nobody can hold it; that is what was asked for.
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return sys_error("prctl(PR_CAPBSET_DROP, " + std::to_string(cap) + ")");
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) return sys_error("capget()");
    for (int cap : caps) data[cap / 32].inheritable &= ~(1U << (cap % 32));
    if (::syscall(SYS_capset, &header, data) != 0) return sys_error("capset()");
    return {};
}

}  // namespace offroot
