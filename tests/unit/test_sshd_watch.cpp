#include "catch.hpp"

#include <string>
#include <vector>

#include "system/sshd_watch.hpp"

using namespace offroot;

TEST_CASE("the watcher backs off a dropbear that keeps dying, capped at 8 seconds") {
    CHECK(sshd_restart_delay(0) == 1);
    CHECK(sshd_restart_delay(1) == 2);
    CHECK(sshd_restart_delay(2) == 4);
    CHECK(sshd_restart_delay(3) == 8);
    CHECK(sshd_restart_delay(4) == 8);
    CHECK(sshd_restart_delay(1000) == 8);
}

TEST_CASE("the dropbear options record is split into words") {
    const auto words = parse_dropbear_options("-s -G root -j -k -p 1022 -P /run/offroot/dropbear.pid\t-r /k\n");
    CHECK(words == std::vector<std::string>{"-s", "-G", "root", "-j", "-k", "-p", "1022", "-P",
                                            "/run/offroot/dropbear.pid", "-r", "/k"});
    CHECK(parse_dropbear_options("").empty());
}

TEST_CASE("the listener's children are read from /proc/PID/task/PID/children") {
    CHECK(parse_children("812 1033 \n") == std::vector<pid_t>{812, 1033});
    CHECK(parse_children("").empty());
    CHECK(parse_children("12 x -3 0 7") == std::vector<pid_t>{12, 7});
}
