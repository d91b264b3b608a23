#include "catch.hpp"

#include <algorithm>

#include "kernel/network.hpp"
#include "transitions/plan.hpp"
#include "system/services.hpp"
#include "transitions/transition.hpp"

using namespace offroot;

TEST_CASE("ip -o addr show: global addresses, not loopback or link-local", "[network]") {
    const char* sample =
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
        "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n"
        "2: ens3    inet 10.0.2.15/24 brd 10.0.2.255 scope global dynamic ens3\\       valid_lft 86313sec preferred_lft 86313sec\n"
        "2: ens3    inet6 fec0::5054:ff:fe12:3456/64 scope site dynamic mngtmpaddr \\       valid_lft 86313sec\n"
        "2: ens3    inet6 2001:db8::15/64 scope global \\       valid_lft forever preferred_lft forever\n"
        "2: ens3    inet6 fe80::5054:ff:fe12:3456/64 scope link \\       valid_lft forever preferred_lft forever\n";
    auto addrs = parse_ip_addresses(sample);
    REQUIRE(addrs.size() == 2);
    CHECK(addrs[0] == AddressEntry{"ens3", "inet", "10.0.2.15/24"});
    CHECK(addrs[1] == AddressEntry{"ens3", "inet6", "2001:db8::15/64"});
}

TEST_CASE("ip route show: lines kept whole, blank lines dropped", "[network]") {
    auto routes = parse_ip_routes("default via 10.0.2.2 dev ens3 proto dhcp src 10.0.2.15 metric 1024 \n\n"
                                  "10.0.2.0/24 dev ens3 proto kernel scope link src 10.0.2.15\n");
    REQUIRE(routes.size() == 2);
    CHECK(routes[0] == "default via 10.0.2.2 dev ens3 proto dhcp src 10.0.2.15 metric 1024");
    CHECK(routes[1] == "10.0.2.0/24 dev ens3 proto kernel scope link src 10.0.2.15");
}

TEST_CASE("network snapshots serialize one line per entry", "[network]") {
    NetworkSnapshot s;
    s.addresses.push_back({"ens3", "inet", "10.0.2.15/24"});
    s.routes.push_back("default via 10.0.2.2 dev ens3");
    CHECK(serialize(s) == "address ens3 inet 10.0.2.15/24\nroute default via 10.0.2.2 dev ens3\n");
}

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
    auto steps = plan_enter(in);
    std::vector<std::string> names;
    for (const auto& s : steps) {
        names.push_back(s.name);
        CHECK_FALSE(s.undo.empty());
    }
    CHECK(names == std::vector<std::string>{"preflight", "snapshot-network", "bring-tools", "stop-services", "move-root-aside",
                                            "bind-stub", "reexec-pid1", "unbind-stub", "kill-leftovers",
                                            "restore-network", "swapoff", "unmount", "unmount", "verify-free"});
    auto at = [&names](const char* name) { return std::find(names.begin(), names.end(), name) - names.begin(); };
    CHECK(steps[at("bind-stub")].action == "bind /usr/lib/offroot/offroot-init over /usr/lib/systemd/systemd");
    CHECK(steps[at("unmount")].action.find("umount /root/boot") == 0);
    CHECK(steps[at("unmount") + 1].action.find("umount /root ") == 0);

    in.from_rootfs = false;
    in.dropbear_pid = 138;
    CHECK(plan_enter(in).front().action.find("/proc/138/root") != std::string::npos);
}

TEST_CASE("the return plan checks the device before anything changes", "[plan]") {
    ReturnInputs in;
    in.device = "/dev/vdb";
    in.fsck = true;
    auto steps = plan_return(in);
    REQUIRE(steps.size() == 7);
    CHECK(steps[0].name == "check-device");
    CHECK(steps[1].name == "fsck");
    CHECK(steps[2].action == "mount /dev/vdb read-only on /root, as the initramfs does");
    CHECK(steps[4].action == "mount --move /root /");
}
