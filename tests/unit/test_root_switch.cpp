#include "catch.hpp"

#include "system/emergency.hpp"
#include "transitions/plan.hpp"
#include "switches/root_switch.hpp"

using namespace offroot;

TEST_CASE("the root switch record: pivot only when it says so", "[root_switch]") {
    CHECK(parse_root_switch("pivot\n") == RootSwitch::pivot);
    CHECK(parse_root_switch("  pivot") == RootSwitch::pivot);
    CHECK(parse_root_switch("move\n") == RootSwitch::move);
    // Images from before the record, and anything unreadable: the switch
    // those boots used.
    CHECK(parse_root_switch("") == RootSwitch::move);
    CHECK(parse_root_switch("pivot_root\n") == RootSwitch::move);
    CHECK(read_root_switch("/nonexistent/root-switch") == RootSwitch::move);
    CHECK(to_string(RootSwitch::pivot) == "pivot");
    CHECK(to_string(RootSwitch::move) == "move");
}

TEST_CASE("where the real root is seen from: the real root, rootfs on top of it, the sessions' bind", "[root_switch]") {
    SystemStatus status;
    CHECK(real_root_view(status).root() == "/");  // no emergency environment: we run in the real root
    CHECK(real_root_view(status).path("/etc/resolv.conf") == "/etc/resolv.conf");

    status.emergency = EmergencyEnvironment{};
    status.emergency->we_run_in_rootfs = true;
    CHECK(real_root_view(status).root() == "/..");
    CHECK(real_root_view(status).path("/etc/resolv.conf") == "/../etc/resolv.conf");
    CHECK(real_root_view(status).mountinfo == "/proc/self/mountinfo");

    status.emergency->root_switch = RootSwitch::pivot;
    CHECK(real_root_view(status).root() == "/proc/1/root");
    CHECK(real_root_view(status).path("/run/initctl") == "/proc/1/root/run/initctl");
    // Our bind of rootfs does not show the real root's mounts; PID 1 does.
    CHECK(real_root_view(status).mountinfo == "/proc/1/mountinfo");

    status.emergency->we_run_in_rootfs = false;
    CHECK(real_root_view(status).root() == "/");

    CHECK(switcher_for(RootSwitch::move).pid1_environment_prefix().empty());
    CHECK(switcher_for(RootSwitch::pivot).pid1_environment_prefix() == "/proc/1/root");
}

TEST_CASE("the pivot switch's plans: pivot_root and a linked stub instead of move, bind and escape", "[plan]") {
    EnterInputs in;
    in.init = detect_init_system("/usr/lib/systemd/systemd", true);
    in.root_source = "/dev/vda";
    in.from_rootfs = true;
    in.unmount_order = {"/"};
    in.root_switch = RootSwitch::pivot;
    std::vector<std::string> names;
    for (const auto& s : plan_enter(in)) {
        names.push_back(s.name);
        CHECK_FALSE(s.undo.empty());
    }
    CHECK(names == std::vector<std::string>{"preflight", "snapshot-network", "hold-dhcp-leases", "bring-tools", "stop-services", "pivot-root-aside",
                                            "link-stub", "reexec-pid1", "unlink-stub", "kill-leftovers",
                                            "restore-network", "keep-dm-devices", "unmount-submounts", "unmount-root", "verify-free"});

    ReturnInputs back;
    back.device = "/dev/vda";
    back.root_switch = RootSwitch::pivot;
    auto steps = plan_return(back);
    REQUIRE(steps.size() == 9);
    CHECK(steps[4].name == "pivot-into-root");
    CHECK(steps[5].action.find("already in the root") != std::string::npos);
}
