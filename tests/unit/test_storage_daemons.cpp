#include "catch.hpp"

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
