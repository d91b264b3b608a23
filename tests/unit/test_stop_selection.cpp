#include "catch.hpp"
#include <unistd.h>

#include "kernel/processes.hpp"

using namespace offroot;

namespace {

Process make(pid_t pid, const std::string& comm, unsigned long flags = 0, bool kthread = false) {
    Process p;
    p.stat.pid = pid;
    p.stat.comm = comm;
    p.stat.flags = flags;
    p.kernel_thread = kthread;
    return p;
}

}  // namespace

TEST_CASE("kernel threads, PID 1, self and the emergency environment are never stopped", "[processes][stop]") {
    std::vector<Process> all = {
        make(1, "systemd"),
        make(2, "kthreadd", 0x00208040, true),
        make(14, "kworker/0:1", 0x04208060, true),
        // Marked by its flags only: the flag alone must be enough.
        make(15, "rcu_sched", 0x00208040, false),
        make(300, "dropbear"),
        make(301, "sh"),
        make(500, "sshd"),
        make(600, "postgres"),
        make(700, "offroot"),
    };
    auto chosen = select_processes_to_stop(all, {300, 301}, 700);
    CHECK(chosen == std::vector<pid_t>{500, 600});
}

TEST_CASE("the live process table: no kernel thread is ever selected", "[processes][stop][live]") {
    auto all = scan_processes(ScanOptions{.proc = "/proc", .with_files = false});
    REQUIRE(all.ok());
    auto chosen = select_processes_to_stop(*all, {}, ::getpid());
    for (pid_t pid : chosen) {
        for (const auto& p : *all) {
            if (p.stat.pid != pid) continue;
            INFO("pid " << pid << " " << p.stat.comm);
            CHECK_FALSE(p.kernel_thread);
            CHECK_FALSE(is_kernel_thread(p.stat));
        }
    }
    bool saw_kthreadd = false;
    for (const auto& p : *all) saw_kthreadd = saw_kthreadd || (p.stat.pid == 2 && p.kernel_thread);
    if (saw_kthreadd) CHECK(std::find(chosen.begin(), chosen.end(), 2) == chosen.end());
}
