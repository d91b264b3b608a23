#include "catch.hpp"

#include "switches/root_switch.hpp"
#include "system/init_system.hpp"
#include "transitions/plan.hpp"

using namespace offroot;

TEST_CASE("the tmpfs switch is recorded and read back as such", "[root_switch]") {
    CHECK(parse_root_switch("tmpfs\n") == RootSwitch::tmpfs);
    CHECK(to_string(RootSwitch::tmpfs) == "tmpfs");
    for (RootSwitch k : {RootSwitch::move, RootSwitch::pivot, RootSwitch::tmpfs}) {
        CHECK(switcher_for(k).kind() == k);
        CHECK(parse_root_switch(to_string(k)) == k);
        CHECK_FALSE(switcher_for(k).description().empty());
    }
}

TEST_CASE("pivot and tmpfs see the real root through PID 1, move through /..", "[root_switch]") {
    CHECK(switcher_for(RootSwitch::move).real_root_from_environment().root() == "/..");
    for (RootSwitch k : {RootSwitch::pivot, RootSwitch::tmpfs}) {
        const RootSwitcher& s = switcher_for(k);
        CHECK(s.real_root_from_environment().root() == "/proc/1/root");
        CHECK(s.pid1_environment_prefix() == "/proc/1/root");
        CHECK(s.pid1_mountinfo() == "/proc/1/mountinfo");
        CHECK(s.is_environment_mount("/run/offroot/rootfs"));
        CHECK(s.is_environment_mount("/run/offroot/rootfs/dev/pts"));
        CHECK_FALSE(s.is_environment_mount("/run/offroot"));
        CHECK_FALSE(s.is_environment_mount("/run/offroot/rootfs2"));
        CHECK(s.leftovers_share_sessions_root());
    }
    const RootSwitcher& move = switcher_for(RootSwitch::move);
    CHECK_FALSE(move.is_environment_mount("/run/offroot/rootfs"));
    CHECK_FALSE(move.leftovers_share_sessions_root());
    CHECK(move.pid1_environment_prefix().empty());
}

TEST_CASE("run-init makes no tmpfs switch: offroot arm or the generator's hook does", "[root_switch]") {
    auto s = switcher_for(RootSwitch::tmpfs).enter_real_root_at_boot("/root");
    REQUIRE_FALSE(s);
    CHECK(s.error().message().find("offroot arm") != std::string::npos);
}

TEST_CASE("where PID 1 re-executes: systemd's compiled-in paths, then /sbin/init", "[init_system]") {
    auto systemd = detect_init_system("/usr/lib/systemd/systemd", true);
    CHECK(reexec_paths(systemd) ==
          std::vector<std::string>{"/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init"});
    auto sysvinit = detect_init_system("/usr/sbin/init", false);
    CHECK(reexec_paths(sysvinit) == std::vector<std::string>{"/usr/sbin/init", "/sbin/init"});
}

TEST_CASE("the tmpfs switch's plans are the pivot switch's, on the emergency tmpfs", "[plan]") {
    EnterInputs in;
    in.init = detect_init_system("/usr/lib/systemd/systemd", true);
    in.root_source = "/dev/vda1";
    in.from_rootfs = true;
    in.unmount_order = {"/"};
    in.root_switch = RootSwitch::tmpfs;
    std::vector<std::string> names;
    bool names_the_tmpfs = false;
    for (const auto& s : plan_enter(in)) {
        names.push_back(s.name);
        names_the_tmpfs = names_the_tmpfs || s.action.find("the emergency tmpfs") != std::string::npos;
    }
    CHECK(names == std::vector<std::string>{"preflight", "snapshot-network", "hold-dhcp-leases", "bring-tools", "stop-services", "pivot-root-aside",
                                            "link-stub", "reexec-pid1", "unlink-stub", "kill-leftovers",
                                            "restore-network", "keep-dm-devices", "unmount-submounts", "unmount-root", "verify-free"});
    CHECK(names_the_tmpfs);

    ReturnInputs back;
    back.device = "/dev/vda1";
    back.root_switch = RootSwitch::tmpfs;
    auto steps = plan_return(back);
    REQUIRE(steps.size() == 9);
    CHECK(steps[4].name == "pivot-into-root");
}
