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
    s.push_back({"snapshot-network", "record addresses, routes and resolv.conf in RAM", "changes nothing"});
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
    if (in.root_switch == RootSwitch::pivot) {
        s.push_back({"pivot-root-aside",
                     "make mounts private, then pivot_root into rootfs (at /run/offroot/rootfs) with the real root put "
                     "at rootfs:/root: PID 1, kernel threads and the services left get rootfs as their root; the "
                     "sessions stay in their bind of rootfs",
                     "pivot_root back into the real root"});
        s.push_back({"link-stub", "link " + stub + " in rootfs where PID 1 re-executes (" + in.init.binary +
                                      (in.init.kind == InitSystem::systemd ? ", systemd's compiled-in path" : "") +
                                      ", /sbin/init), setting aside what is there",
                     "remove the links, put back what was set aside"});
        s.push_back({"reexec-pid1", reexec, "pivot_root back and SIGUSR1 to the stub: the real init starts again"});
        s.push_back({"unlink-stub", "remove the links, put back what was set aside", "none needed"});
    } else {
        s.push_back({"move-root-aside", "make mounts private, then mount --move /.. /root inside rootfs",
                     "mount --move /root back onto /"});
        s.push_back({"bind-stub", "bind " + stub + " over " + in.init.binary, "unmount the bind"});
        s.push_back({"reexec-pid1", reexec,
                     "SIGUSR1 to the stub once the root is back on top of /: the real init starts again"});
        s.push_back({"unbind-stub", "lazily unmount the bind over " + in.init.binary, "none needed"});
    }
    s.push_back({"kill-leftovers",
                 "SIGTERM what still runs from the disk, wait up to 10 s, SIGKILL; never the emergency environment "
                 "or kernel threads",
                 "services are started again on return"});
    s.push_back({"restore-network", "re-add addresses and routes that went away with their daemons",
                 "none needed"});
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
    if (in.root_switch == RootSwitch::pivot) {
        s.push_back({"pivot-into-root",
                     "pivot_root into /root, rootfs put at /run/offroot/rootfs under it: PID 1 and the kernel threads "
                     "get the root as their root; the sessions stay in their bind of rootfs",
                     "pivot_root back into rootfs"});
        s.push_back({"signal-stub", "SIGUSR1 to PID 1: offroot-init, already in the root, execs the real init" + init_kind,
                     "none: from here the real init boots userspace"});
    } else {
        s.push_back({"move-root-on-top", "mount --move /root /", "mount --move /.. /root"});
        s.push_back({"signal-stub", "SIGUSR1 to PID 1: offroot-init enters /.. and execs the real init" + init_kind,
                     "none: from here the real init boots userspace"});
    }
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
