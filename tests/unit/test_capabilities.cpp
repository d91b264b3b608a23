#include "catch.hpp"
#include <linux/capability.h>

#include <string>
#include <vector>

#include "kernel/capabilities.hpp"

using namespace offroot;
using Caps = std::vector<int>;

namespace {

Caps parsed(const std::string& list) {
    auto caps = parse_capability_list(list);
    if (!caps) FAIL("parse_capability_list(\"" << list << "\"): " << caps.error().message());
    return std::move(caps).value();
}

}  // namespace

TEST_CASE("capability list: names with and without cap_", "[capabilities]") {
    CHECK(parsed("cap_sys_module") == Caps{CAP_SYS_MODULE});
    CHECK(parsed("sys_module") == Caps{CAP_SYS_MODULE});
    CHECK(parsed("cap_sys_module,sys_rawio,cap_chown") == Caps{CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_CHOWN});
}

TEST_CASE("capability list: upper and mixed case", "[capabilities]") {
    CHECK(parsed("CAP_SYS_MODULE") == Caps{CAP_SYS_MODULE});
    CHECK(parsed("Cap_Net_Admin,SYS_BOOT") == Caps{CAP_NET_ADMIN, CAP_SYS_BOOT});
}

TEST_CASE("capability list: numbers", "[capabilities]") {
    CHECK(parsed("17") == Caps{17});
    CHECK(parsed("0,63") == Caps{0, 63});
    CHECK(parsed("cap_16,sys_rawio") == Caps{16, CAP_SYS_RAWIO});
}

TEST_CASE("capability list: order and repeats are kept, empty items skipped", "[capabilities]") {
    CHECK(parsed("") == Caps{});
    CHECK(parsed(",") == Caps{});
    CHECK(parsed("kill,,chown,kill,") == Caps{CAP_KILL, CAP_CHOWN, CAP_KILL});
}

TEST_CASE("capability list: every name maps to the kernel's number", "[capabilities]") {
    struct Named {
        const char* name;
        int number;
    };
    const Named all[] = {
        {"chown", CAP_CHOWN},
        {"dac_override", CAP_DAC_OVERRIDE},
        {"dac_read_search", CAP_DAC_READ_SEARCH},
        {"fowner", CAP_FOWNER},
        {"fsetid", CAP_FSETID},
        {"kill", CAP_KILL},
        {"setgid", CAP_SETGID},
        {"setuid", CAP_SETUID},
        {"setpcap", CAP_SETPCAP},
        {"linux_immutable", CAP_LINUX_IMMUTABLE},
        {"net_bind_service", CAP_NET_BIND_SERVICE},
        {"net_broadcast", CAP_NET_BROADCAST},
        {"net_admin", CAP_NET_ADMIN},
        {"net_raw", CAP_NET_RAW},
        {"ipc_lock", CAP_IPC_LOCK},
        {"ipc_owner", CAP_IPC_OWNER},
        {"sys_module", CAP_SYS_MODULE},
        {"sys_rawio", CAP_SYS_RAWIO},
        {"sys_chroot", CAP_SYS_CHROOT},
        {"sys_ptrace", CAP_SYS_PTRACE},
        {"sys_pacct", CAP_SYS_PACCT},
        {"sys_admin", CAP_SYS_ADMIN},
        {"sys_boot", CAP_SYS_BOOT},
        {"sys_nice", CAP_SYS_NICE},
        {"sys_resource", CAP_SYS_RESOURCE},
        {"sys_time", CAP_SYS_TIME},
        {"sys_tty_config", CAP_SYS_TTY_CONFIG},
        {"mknod", CAP_MKNOD},
        {"lease", CAP_LEASE},
        {"audit_write", CAP_AUDIT_WRITE},
        {"audit_control", CAP_AUDIT_CONTROL},
        {"setfcap", CAP_SETFCAP},
        {"mac_override", CAP_MAC_OVERRIDE},
        {"mac_admin", CAP_MAC_ADMIN},
        {"syslog", CAP_SYSLOG},
        {"wake_alarm", CAP_WAKE_ALARM},
        {"block_suspend", CAP_BLOCK_SUSPEND},
        {"audit_read", CAP_AUDIT_READ},
        {"perfmon", CAP_PERFMON},
        {"bpf", CAP_BPF},
        {"checkpoint_restore", CAP_CHECKPOINT_RESTORE},
    };
    STATIC_REQUIRE(sizeof all / sizeof all[0] == CAP_LAST_CAP + 1);
    for (const auto& cap : all) {
        INFO(cap.name);
        CHECK(parsed(std::string("cap_") + cap.name) == Caps{cap.number});
    }
}

TEST_CASE("capability list: an unknown name is an error naming it", "[capabilities]") {
    auto caps = parse_capability_list("cap_sys_module,cap_frobnicate,cap_chown");
    REQUIRE_FALSE(caps.ok());
    CHECK(caps.error().message() == "unknown capability \"cap_frobnicate\"; use names such as cap_sys_module");
}

TEST_CASE("capability list: numbers outside 0..63 and junk are errors naming them", "[capabilities]") {
    for (const char* bad : {"64", "-1", "0x10", "17a", "cap_", "sys module", " chown"}) {
        INFO(bad);
        auto caps = parse_capability_list(bad);
        REQUIRE_FALSE(caps.ok());
        CHECK(caps.error().message() ==
              "unknown capability \"" + std::string(bad) + "\"; use names such as cap_sys_module");
    }
}
