#include "transitions/plan.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "kernel/mountinfo.hpp"
#include "system/emergency.hpp"
#include "system/transition_record.hpp"

namespace offroot {

namespace {

// The real root's mounts, children first, as mount points inside it: from
// rootfs, the real root is the mount on top of "/" and its descendants;
// rootfs' own binds of /dev, /proc... are not part of it, nor is rootfs when
// it is mounted under the real root (pivot switch).
std::vector<std::string> real_root_unmount_order(const SystemStatus& status) {
    auto table = MountTable::read(real_root_view(status).mountinfo);
    if (!table) return {};
    const RootSwitcher* switcher = status.emergency ? &status.emergency->switcher() : nullptr;
    auto is_rootfs_mount = [switcher](const MountEntry& m) {
        return switcher && switcher->is_environment_mount(m.mount_point);
    };
    const MountEntry* root = table->mount_of("/");
    if (root == nullptr) return {};
    std::vector<MountEntry> subtree{*root};
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& m : table->entries()) {
            bool known = false, parent_known = false;
            for (const auto& s : subtree) {
                known = known || s.id == m.id;
                parent_known = parent_known || s.id == m.parent_id;
            }
            if (!known && parent_known && !is_rootfs_mount(m)) {
                subtree.push_back(m);
                grew = true;
            }
        }
    }
    MountTable real(subtree);
    std::vector<std::string> order;
    for (const MountEntry* m : real.unmount_order("/")) order.push_back(m->mount_point);
    return order;
}

}  // namespace

EnterInputs enter_inputs(const CheckReport& report) {
    EnterInputs in;
    in.init = report.init;
    in.root_source = report.root_source;
    in.root_fs_type = report.root_fs_type;
    in.from_rootfs = report.system.emergency && report.system.emergency->we_run_in_rootfs;
    if (report.system.emergency && report.system.emergency->dropbear) in.dropbear_pid = *report.system.emergency->dropbear;
    in.unmount_order = real_root_unmount_order(report.system);
    if (report.system.emergency) in.root_switch = report.system.emergency->root_switch;
    for (const auto& s : report.swaps) in.swaps.push_back(s.name);
    for (const auto& l : report.loop_devices) in.loop_devices.push_back(l.substr(0, l.find(' ')));
    return in;
}

ReturnInputs return_inputs(const SystemStatus& status, const std::string& device, bool fsck) {
    ReturnInputs in;
    in.device = device;
    in.fsck = fsck;
    if (status.emergency) in.root_switch = status.emergency->root_switch;
    if (auto init = detect_running_init(); init) in.init = *init;
    return in;
}

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
                 "record the command lines of dhclient and dhcpcd in /var/lib/offroot/dhcp-clients, then SIGKILL them "
                 "(those NetworkManager runs die with it): no stop logic runs, no DHCPRELEASE is sent, the leased "
                 "addresses stay",
                 "start them again from the record, detached, in the real root (offroot recover too)"});
    s.push_back({"bring-tools",
                 "copy into RAM, with their own C library and loader, the tools for the disks of this host: e2fsprogs, "
                 "and lvm2, cryptsetup, mdadm, xfsprogs, btrfs-progs where used, and TOOLS of offroot.conf; check each runs",
                 "remove them"});
    switch (in.init.kind) {
        case InitSystem::systemd:
            s.push_back({"stop-services",
                         "systemd stops every unit except the network's, the emergency environment's and its own; wait until no stop job is left (up to 300 s)",
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
                 "or kernel threads; a module load (modprobe, finit_module) is waited for, never signalled",
                 "none of its own: the real init starts the services again when it boots (the undo of reexec-pid1, "
                 "or return)"});
    s.push_back({"restore-network",
                 "systemd-networkd and NetworkManager got SIGKILL above (no release, no flush); re-add the up state of links, "
                 "sysctls, addresses, routes and rules that went away; make every lifetime infinite (no lease "
                 "runs out while DETACHED); then verify the default routes and the route to the address of the admin "
                 "(SSH_CONNECTION), and undo enter if one is missing",
                 "give the lifetimes back (at least 300 s), then the undo of replace-pid1"});
    // Freeing the disk, in the order enter does it: the swap (a swap file
    // lives on a filesystem), what is mounted under the root (a loop
    // device's file may be there), the loop devices, the root itself.
    s.push_back({"keep-dm-devices",
                 "the device-mapper devices marked for removal once closed (an encrypted LVM boot marks the root LV "
                 "and its dm-crypt mapping so) stay assembled when the root is unmounted: @cancel_deferred_remove, "
                 "recorded for return",
                 "mark them for removal once closed again"});
    for (const auto& sw : in.swaps) s.push_back({"swapoff", "swapoff " + sw, "swapon " + sw + " again"});
    std::string submounts;
    for (const auto& m : in.unmount_order)
        if (m != "/") submounts += " /root" + m;
    s.push_back({"unmount-submounts",
                 "umount, children first, what is mounted under the root:" +
                     (submounts.empty() ? std::string(" nothing now") : submounts) +
                     " (bounded retries; names the processes still holding one)",
                 "none of its own: the undo of reexec-pid1 puts the root back with what is still mounted on it, and "
                 "the real init mounts the rest from fstab as it boots"});
    for (const auto& l : in.loop_devices)
        s.push_back({"detach-loop", "losetup -d " + l, "none: the loop device stays detached (losetup attaches it again)"});
    s.push_back({"unmount-root", "umount /root (bounded retries; names the processes still holding it)",
                 "none: with the root unmounted enter is done, whatever follows; the way back is offroot return"});
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
    s.push_back({"check-root",
                 "the init the kernel command line names starts from it (its loader and libraries are there), and its "
                 "fstab mounts / from " + in.device + "; else stop, still DETACHED",
                 "changes nothing"});
    s.push_back({"give-kernel-filesystems",
                 "bind /dev (with /dev/pts), /proc, /sys into /root; a fresh tmpfs on /root/run, with udev's database "
                 "and ifupdown's state of the interfaces that stayed up (not those of a DHCP client enter killed)",
                 "unmount them"});
    const std::string init_kind =
        in.init.kind == InitSystem::unknown ? std::string() : " (" + to_string(in.init.kind) + ")";
    for (auto& step : switcher_for(in.root_switch).return_steps(init_kind)) s.push_back(std::move(step));
    s.push_back({"thaw-network",
                 "once the real init runs: the addresses and routes enter made permanent get the lifetimes they had "
                 "(at least 300 s; those of dhclient stay infinite until its first RENEW sets the lease time), for the "
                 "DHCP clients of the init to renew",
                 "none"});
    s.push_back({"defer-dm-removal",
                 "the device-mapper devices enter kept are marked for removal once closed again, as boot left them; "
                 "one nothing holds open any more stays assembled",
                 "none"});
    s.push_back({"wait-for-sshd", "wait until sshd answers on port 22", "none"});
    return s;
}

namespace {

// The fault tests' crash at a known point (tests/vm/faults.sh): with
// OFFROOT_TEST_KILL_AT=enter:bind-stub the worker kills itself with SIGKILL
// as that step begins, once the record names it; with
// OFFROOT_TEST_KILL_AT=enter:bind-stub:done, once the step's action is
// done and before the next step is recorded. A kill -9 from outside lands
// wherever the scheduler puts it; this one lands at every step in turn, so
// that offroot recover is tried at each.
void kill_self_if_asked(const std::string& transition, const std::string& step, const char* when) {
    const char* asked = std::getenv("OFFROOT_TEST_KILL_AT");
    if (asked == nullptr || *asked == '\0') return;
    const std::string here = transition + ":" + step + (*when != '\0' ? std::string(":") + when : std::string());
    if (here != asked) return;
    log_warning(transition + ": OFFROOT_TEST_KILL_AT=" + here + ": killing this worker with SIGKILL (a fault test)");
    ::kill(::getpid(), SIGKILL);
}

}  // namespace

PlanRun::PlanRun(std::string transition, std::vector<Step> steps)
    : transition_(std::move(transition)), steps_(std::move(steps)) {}

Status PlanRun::begin(const std::string& name, double started_at) {
    if (next_ >= steps_.size() || steps_[next_].name != name)
        return plain_error(transition_ + " and its plan disagree: it runs " + name + " where the plan has " +
                               (next_ < steps_.size() ? steps_[next_].name : std::string("no step left")),
                           "a bug in offroot: report it with offroot " + transition_ + " --dry-run");
    const Step& step = steps_[next_++];
    note_transition_step(step.name);
    started_ = started_at > 0 ? started_at : monotonic_seconds();
    log_info(transition_ + ": " + std::to_string(next_) + "/" + std::to_string(steps_.size()) + " " + step.name + ": " +
             step.action);
    kill_self_if_asked(transition_, step.name, "");
    return {};
}

double PlanRun::done() {
    const double took = monotonic_seconds() - started_;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", took);
    if (next_ > 0) {
        log_info(transition_ + ": " + steps_[next_ - 1].name + " done in " + buf);
        kill_self_if_asked(transition_, steps_[next_ - 1].name, "done");
    }
    return took;
}

Status PlanRun::finish() const {
    if (next_ == steps_.size()) return {};
    return plain_error(transition_ + " and its plan disagree: it ended before step " + steps_[next_].name + " of the plan",
                       "a bug in offroot: report it with offroot " + transition_ + " --dry-run");
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
