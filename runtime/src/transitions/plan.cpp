#include "transitions/plan.hpp"

#include "system/emergency.hpp"
#include "base/files.hpp"
#include "base/json.hpp"

namespace offroot {

std::vector<Step> plan_enter(const EnterInputs& in) {
    std::vector<Step> s;
    const std::string stub = std::string(kRootfsLibDir) + "/" + kInitStubName;
    if (!in.from_rootfs)
        s.push_back({"continue-from-rootfs",
                     "re-run offroot inside rootfs through /proc/" +
                         (in.dropbear_pid ? std::to_string(*in.dropbear_pid) : std::string("<dropbear>")) +
                         "/root, detached from this session; reconnect with ssh -p 1022",
                     "nothing changed yet"});
    s.push_back({"preflight", "offroot check: refuse with the reasons if anything is a blocker", "changes nothing"});
    s.push_back({"snapshot-network",
                 "record in RAM, over rtnetlink, the links, IPv4 and IPv6 addresses with their lifetimes, the routes of "
                 "every table, the policy rules, the forwarding and accept_ra sysctls; and resolv.conf",
                 "changes nothing"});
    s.push_back({"hold-dhcp-leases",
                 "SIGKILL dhclient and dhcpcd (those NetworkManager runs die with it): no stop logic runs, no DHCPRELEASE "
                 "is sent, "
                 "the leased addresses stay",
                 "start them again with their own command lines"});
    s.push_back({"bring-tools",
                 "copy into RAM, with their own C library and loader, the tools for the disks of this host: e2fsprogs, "
                 "and lvm2, cryptsetup, mdadm, xfsprogs, btrfs-progs where used, and TOOLS of offroot.conf; check each runs",
                 "remove them"});
    switch (in.init.kind) {
        case InitSystem::systemd:
            s.push_back({"stop-services",
                         "systemd stops every unit except the network's, the emergency environment's and its own",
                         "start the stopped units again"});
            break;
        case InitSystem::sysvinit:
            s.push_back({"stop-services", "run the rc stop scripts of the running runlevel, except networking",
                         "run their start scripts again"});
            break;
        case InitSystem::unknown:
            s.push_back({"stop-services", "unknown init system: refuse (nothing stopped)", "changes nothing"});
            break;
    }
    const std::string reexec = in.init.reexec_command.empty() ? std::string("no re-exec known for this init: refuse")
                                                              : in.init.reexec_command + "; wait until PID 1 is offroot-init";
    for (auto& step : switcher_for(in.root_switch).enter_steps(reexec_paths(in.init), stub, reexec))
        s.push_back(std::move(step));
    s.push_back({"kill-leftovers",
                 "SIGTERM what still runs from the disk, wait up to 10 s, SIGKILL; never the emergency environment "
                 "or kernel threads",
                 "services are started again on return"});
    s.push_back({"restore-network",
                 "systemd-networkd and NetworkManager got SIGKILL above (no release, no flush); re-add the up state of links, "
                 "sysctls, addresses, routes and rules that went away; make every lifetime infinite (no lease "
                 "runs out while DETACHED); then verify the default routes and the route to the address of the admin "
                 "(SSH_CONNECTION), and undo enter if one is missing",
                 "give the lifetimes back (at least 300 s), then the undo of replace-pid1"});
    for (const auto& sw : in.swaps) s.push_back({"swapoff", "swapoff " + sw, "swapon " + sw});
    for (const auto& l : in.loop_devices) s.push_back({"detach-loop", "losetup -d " + l, "losetup again"});
    for (const auto& m : in.unmount_order)
        s.push_back({"unmount", "umount /root" + (m == "/" ? std::string() : m) +
                                     " (bounded retries; names the processes still holding it)",
                     "mount it again"});
    s.push_back({"verify-free", "open " + (in.root_source.empty() ? std::string("the root device") : in.root_source) +
                                    " with O_EXCL: the disk is free",
                 "changes nothing"});
    return s;
}

std::vector<Step> plan_return(const ReturnInputs& in) {
    std::vector<Step> s;
    s.push_back({"check-device",
                 in.device + ": exists, is a block device, holds a filesystem, is not open elsewhere (O_EXCL)",
                 "changes nothing"});
    if (in.fsck) s.push_back({"fsck", "fsck -a " + in.device + "; stop on uncorrected errors", "changes nothing"});
    s.push_back({"mount-root", "mount " + in.device + " read-only on /root, as the initramfs does", "unmount it"});
    s.push_back({"give-kernel-filesystems", "bind /dev (with /dev/pts), /proc, /sys into /root; a fresh tmpfs on /root/run",
                 "unmount them"});
    const std::string init_kind =
        in.init.kind == InitSystem::unknown ? std::string() : " (" + to_string(in.init.kind) + ")";
    for (auto& step : switcher_for(in.root_switch).return_steps(init_kind)) s.push_back(std::move(step));
    s.push_back({"thaw-network",
                 "once the real init runs: the addresses and routes enter made permanent get the lifetimes they had "
                 "(at least 300 s; those of dhclient stay infinite until its first RENEW sets the lease time), for the "
                 "DHCP clients of the init to renew",
                 "none"});
    s.push_back({"wait-for-sshd", "wait until sshd answers on port 22", "none"});
    return s;
}

std::string format_plan_human(const std::string& title, const std::vector<Step>& steps) {
    std::string out = title + "\n";
    int n = 1;
    for (const auto& step : steps) {
        out += "  " + std::to_string(n++) + ". " + step.name + ": " + step.action + "\n";
        out += "     undo: " + step.undo + "\n";
    }
    return out;
}

std::string format_plan_json(const std::string& command, const std::vector<Step>& steps) {
    JsonWriter j;
    j.begin_object().key("command").value(command).key("dry_run").value(true).key("steps").begin_array();
    for (const auto& step : steps)
        j.begin_object().key("name").value(step.name).key("action").value(step.action).key("undo").value(step.undo)
            .end_object();
    j.end_array().end_object();
    return j.str() + "\n";
}

}  // namespace offroot
