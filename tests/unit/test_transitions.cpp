#include "catch.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "kernel/network.hpp"
#include "transitions/plan.hpp"
#include "system/services.hpp"
#include "transitions/transition.hpp"

using namespace offroot;

TEST_CASE("sysvinit: the stop scripts run, in order, except the network and the killers", "[services]") {
    std::vector<std::string> rc0 = {"K01cron", "K01ssh", "K02rsyslog", "K03sendsigs", "K04networking",
                                    "K05umountnfs.sh", "K06umountfs", "K07umountroot", "K08halt", "README",
                                    "S01killprocs", "K01ifupdown", "K01postgresql"};
    CHECK(sysvinit_stop_order(rc0) ==
          std::vector<std::string>{"K01cron", "K01postgresql", "K01ssh", "K02rsyslog"});
    CHECK(sysvinit_script_is_kept("K04networking"));
    CHECK(sysvinit_script_is_kept("halt"));
    CHECK_FALSE(sysvinit_script_is_kept("K01cron"));
}

TEST_CASE("systemd's job queue from systemctl list-jobs --no-legend --plain", "[services]") {
    const std::string out = "1123 user@0.service stop running\n"
                            "1130 dracut-shutdown.service   stop waiting\n"
                            "\n"
                            "1131 systemd-networkd-wait-online.service start waiting\n"
                            "junk\n";
    const auto jobs = parse_systemd_jobs(out);
    REQUIRE(jobs.size() == 3);
    CHECK(jobs[0] == SystemdJob{"user@0.service", "stop", "running"});
    CHECK(jobs[1] == SystemdJob{"dracut-shutdown.service", "stop", "waiting"});
    CHECK(jobs[2] == SystemdJob{"systemd-networkd-wait-online.service", "start", "waiting"});
    CHECK(describe_jobs({jobs[0], jobs[1]}) == "user@0.service (stop, running), dracut-shutdown.service (stop, waiting)");
    CHECK(parse_systemd_jobs("").empty());
}

TEST_CASE("the detach record round-trips and needs a device", "[transition]") {
    DetachRecord r{"/dev/vda", "ext4", "systemd", "/usr/lib/systemd/systemd", "subvol=@rootfs"};
    auto back = parse_detach_record(serialize(r));
    REQUIRE(back.ok());
    CHECK(back->root_device == "/dev/vda");
    CHECK(back->root_fs_type == "ext4");
    CHECK(back->init_kind == "systemd");
    CHECK(back->init_binary == "/usr/lib/systemd/systemd");
    CHECK(back->root_mount_data == "subvol=@rootfs");
    auto empty = parse_detach_record("INIT=systemd\n");
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().message() == "the detach record names no root device");
}

TEST_CASE("init systems are told apart by PID 1's binary and /run/systemd/system", "[plan]") {
    auto systemd = detect_init_system("/usr/lib/systemd/systemd", true);
    CHECK(systemd.kind == InitSystem::systemd);
    CHECK(systemd.reexec_command == "systemctl daemon-reexec");
    auto upgraded = detect_init_system("/usr/lib/systemd/systemd (deleted)", true);
    CHECK(upgraded.binary == "/usr/lib/systemd/systemd");
    auto sysv = detect_init_system("/usr/sbin/init", false);
    CHECK(sysv.kind == InitSystem::sysvinit);
    CHECK(detect_init_system("/bin/busybox", false).kind == InitSystem::unknown);
    // systemd's binary without /run/systemd/system is not a booted systemd.
    CHECK(detect_init_system("/usr/lib/systemd/systemd", false).kind == InitSystem::unknown);
}

TEST_CASE("the enter plan: every step has an undo, in the order enter runs them", "[plan]") {
    EnterInputs in;
    in.init = detect_init_system("/usr/lib/systemd/systemd", true);
    in.root_source = "/dev/vda";
    in.from_rootfs = true;
    in.unmount_order = {"/boot", "/"};
    in.swaps = {"/swapfile"};
    in.loop_devices = {"/dev/loop0"};
    auto steps = plan_enter(in);
    std::vector<std::string> names;
    for (const auto& s : steps) {
        names.push_back(s.name);
        CHECK_FALSE(s.undo.empty());
    }
    CHECK(names == std::vector<std::string>{"preflight", "snapshot-network", "hold-dhcp-leases", "bring-tools", "stop-services", "move-root-aside",
                                            "bind-stub", "reexec-pid1", "unbind-stub", "kill-leftovers",
                                            "restore-network", "keep-dm-devices", "swapoff", "unmount-submounts", "detach-loop",
                                            "unmount-root", "verify-free"});
    auto at = [&names](const char* name) { return std::find(names.begin(), names.end(), name) - names.begin(); };
    CHECK(steps[at("bind-stub")].action == "bind /usr/lib/offroot/offroot-init over /usr/lib/systemd/systemd");
    CHECK(steps[at("unmount-submounts")].action.find("what is mounted under the root: /root/boot (") !=
          std::string::npos);
    CHECK(steps[at("unmount-root")].action.find("umount /root ") == 0);
    // What the code undoes, and nothing it does not (issue 10): swapon
    // again; no remount, no losetup.
    CHECK(steps[at("swapoff")].undo == "swapon /swapfile again");
    CHECK(steps[at("detach-loop")].undo.find("none") == 0);
    CHECK(steps[at("unmount-submounts")].undo.find("none of its own") == 0);
    CHECK(steps[at("unmount-root")].undo.find("none") == 0);

    in.from_rootfs = false;
    in.dropbear_pid = 138;
    CHECK(plan_enter(in).front().action.find("/proc/138/root") != std::string::npos);
}

TEST_CASE("the return plan checks the device before anything changes", "[plan]") {
    ReturnInputs in;
    in.device = "/dev/vdb";
    in.fsck = true;
    auto steps = plan_return(in);
    REQUIRE(steps.size() == 10);
    CHECK(steps[0].name == "check-device");
    CHECK(steps[1].name == "fsck");
    CHECK(steps[2].action == "mount /dev/vdb read-only on /root, as the initramfs does");
    CHECK(steps[3].name == "check-root");
    CHECK(steps[5].action == "mount --move /root /");
}

TEST_CASE("a plan runs in its own order, or the transition stops", "[plan]") {
    configure_log(LogSinks{.to_stderr = false, .to_kmsg = false, .ram_log = "", .tag = "offroot"});  // the steps' lines: not this test's output
    std::vector<Step> steps{{"one", "do one", "none"}, {"two", "do two", "none"}};
    PlanRun run("enter", steps);
    REQUIRE(run.begin("one").ok());
    auto drifted = run.begin("three");
    REQUIRE_FALSE(drifted.ok());
    CHECK(drifted.error().message() ==
          "enter and its plan disagree: it runs three where the plan has two; a bug in offroot: report it with "
          "offroot enter --dry-run");
    auto early = run.finish();
    REQUIRE_FALSE(early.ok());
    CHECK(early.error().message().find("it ended before step two of the plan") != std::string::npos);
    REQUIRE(run.begin("two").ok());
    CHECK(run.finish().ok());
    auto past = run.begin("two");
    REQUIRE_FALSE(past.ok());
    CHECK(past.error().message().find("where the plan has no step left") != std::string::npos);
}

TEST_CASE("every root switch plans the four enter steps and two return steps the code runs", "[plan]") {
    // transition_enter.cpp and transition_return.cpp begin the switch's
    // steps by position: aside, place the stub, re-exec, unplace; root in
    // place, signal the stub.
    for (RootSwitch kind : {RootSwitch::move, RootSwitch::pivot, RootSwitch::tmpfs}) {
        const RootSwitcher& sw = switcher_for(kind);
        CHECK(sw.enter_steps({"/usr/lib/systemd/systemd"}, "/usr/lib/offroot/offroot-init", "x").size() == 4);
        CHECK(sw.return_steps("").size() == 2);
        CHECK(sw.enter_steps({"/sbin/init"}, "/usr/lib/offroot/offroot-init", "x")[2].name == "reexec-pid1");
    }
}

// offroot-detached.target wants the network's units that run, no other:
// a Wants= of a disabled networkd started it at enter on an ifupdown host.
TEST_CASE("the detached target keeps the network's running units, and starts none", "[services]") {
    const std::vector<std::string> units = {"systemd-networkd.service", "systemd-resolved.service",
                                            "networking.service", "NetworkManager.service"};
    // systemctl is-active: one state per unit, in order
    CHECK(active_units(units, "inactive\ninactive\nactive\ninactive\n") == std::vector<std::string>{"networking.service"});
    CHECK(active_units(units, "active\nreloading\nfailed\nactivating\n") ==
          std::vector<std::string>{"systemd-networkd.service", "systemd-resolved.service", "NetworkManager.service"});
    CHECK(active_units(units, "inactive\ninactive\ninactive\ninactive\n").empty());
    CHECK(active_units(units, "").empty());  // nothing said: nothing kept

    const auto dropin = detached_target_dropin({"networking.service"});
    CHECK(dropin.find("[Unit]\nWants=networking.service\n") != std::string::npos);
    CHECK(dropin.find("systemd-networkd") == std::string::npos);
    CHECK(detached_target_dropin({}).find("Wants=") == std::string::npos);
}
