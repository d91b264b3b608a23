#include "catch.hpp"

#include <sys/syscall.h>

#include "kernel/processes.hpp"

using namespace offroot;

namespace {

Process daemon_process(pid_t pid, const std::string& comm, std::vector<std::string> argv) {
    Process p;
    p.stat.pid = pid;
    p.stat.comm = comm;
    p.cmdline = std::move(argv);
    return p;
}

}  // namespace

TEST_CASE("what serves storage is never selected to stop", "[processes][stop]") {
    std::vector<Process> all = {
        daemon_process(400, "mdmon", {"/sbin/mdmon", "--all"}),
        daemon_process(401, "multipathd", {"/sbin/multipathd", "-d", "-s"}),
        daemon_process(402, "iscsid", {"/sbin/iscsid"}),
        daemon_process(403, "lvmetad", {"@lvmetad", "-f"}),
        daemon_process(404, "dropbear", {"@dropbear", "-s"}),
        daemon_process(500, "sshd", {"sshd: /usr/sbin/sshd -D [listener]"}),
        daemon_process(501, "cron", {"/usr/sbin/cron", "-f"}),
        daemon_process(502, "bash", {}),  // a zombie, or argv not readable
    };
    CHECK(select_processes_to_stop(all, {}, 1) == std::vector<pid_t>{500, 501, 502});
}

TEST_CASE("a storage daemon says what it serves", "[processes]") {
    auto at = storage_daemon_role(daemon_process(403, "lvmetad", {"@lvmetad"}));
    REQUIRE(at);
    CHECK(at->find("root storage daemon") != std::string::npos);
    auto md = storage_daemon_role(daemon_process(400, "mdmon", {"/sbin/mdmon", "md127"}));
    REQUIRE(md);
    CHECK(md->find("mdmon") == 0);
    CHECK_FALSE(storage_daemon_role(daemon_process(500, "sshd", {"/usr/sbin/sshd"})));
    // An empty argv[0] (a process that cleared it) is no mark.
    CHECK_FALSE(storage_daemon_role(daemon_process(501, "x", {""})));
}

// /proc/<pid>/syscall as the kernel writes it: the call's number and its
// arguments, "running" on a CPU, -1 blocked outside a call.
TEST_CASE("the system call a process is in, from /proc/PID/syscall", "[processes]") {
    CHECK(parse_proc_syscall("313 0x3 0x55d0c0a7a5e0 0x0 0x7ffd 0x0 0x0 0x7ffd9c0 0x7f3a21b1\n") == 313);
    CHECK(parse_proc_syscall("-1 0x7ffe5b2c6a48 0x7f4d3c9e1b27\n") == -1);
    CHECK_FALSE(parse_proc_syscall("running\n"));
    CHECK_FALSE(parse_proc_syscall(""));
    CHECK_FALSE(parse_proc_syscall("31x 0x1"));
}

TEST_CASE("a module loader is waited for, not killed: by name, or inside (f)init_module", "[processes][stop]") {
    auto stat = [](const std::string& comm) {
        ProcessStat s;
        s.pid = 700;
        s.comm = comm;
        return s;
    };
    // The kernel's request_module runs modprobe; it may not be in the call yet.
    CHECK(is_module_loader(stat("modprobe"), std::nullopt));
    CHECK(is_module_loader(stat("insmod"), 0));
    CHECK(is_module_loader(stat("kmod"), -1));
    // udev's workers load modules through libkmod, in-process.
    CHECK(is_module_loader(stat("(udev-worker)"), SYS_finit_module));
    CHECK(is_module_loader(stat("systemd-udevd"), SYS_init_module));
#ifdef __x86_64__
    CHECK(is_module_loader(stat("(udev-worker)"), 313));
#endif
    CHECK_FALSE(is_module_loader(stat("(udev-worker)"), 0));
    CHECK_FALSE(is_module_loader(stat("systemd-networkd"), std::nullopt));
    CHECK_FALSE(is_module_loader(stat("modprobe.sh"), 61));
}
