// offroot recover: a transition whose worker died (kill -9, the OOM killer,
// a crash of offroot itself) finished or undone, from its record
// (system/transition_record.hpp) and from what the system looks like now:
// the record says where the worker was, the system says what it had done.
//
// Covered:
//   enter, the root still on top of / (died up to stop-services, or while
//     the root was going aside and before it moved): undone, the services
//     started again through the init (from stop-services on: before it,
//     none was stopped), the tools removed, the DHCP clients
//     hold-dhcp-leases killed started again from its record;
//   enter, PID 1 already the stub and the root aside (died while killing
//     the leftovers, restoring the network or freeing the disk): undone as
//     enter undoes itself there, the root back on top and SIGUSR1, the
//     real init boots the services again, the DHCP clients are started
//     again;
//   in each case that ends NORMAL, a bind of the stub left over the init's
//     binary (enter died between bind-stub and unbind-stub) is unmounted,
//     lazily as unbind-stub does: the next boot or re-exec of the init
//     would run the stub;
//   enter that had freed the disk (DETACHED): finished, nothing to do;
//   return before the switch (DETACHED, or the root mounted at /root by
//     it): what it mounted goes, and it runs again with its arguments;
//   return after the hand-over (the real init is PID 1): its tail done
//     (records, tools in RAM, network lifetimes).
// Anything else (PID 1 still the real init with the root aside: the re-exec
// may be pending) is refused with what status says: a guess there can lose
// the server.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <thread>

#include "base/files.hpp"
#include "base/log.hpp"
#include "kernel/mount.hpp"
#include "kernel/mountinfo.hpp"
#include "switches/root_switch.hpp"
#include "system/dhcp_clients.hpp"
#include "system/emergency.hpp"
#include "system/init_system.hpp"
#include "system/offline_tools.hpp"
#include "system/services.hpp"
#include "system/time_limit.hpp"
#include "system/transition_record.hpp"
#include "transitions/network_steps.hpp"
#include "transitions/transition.hpp"

namespace offroot {
namespace {

void forget(const char* path) {
    if (::unlink(path) != 0 && errno != ENOENT) log_warning("recover: " + sys_error("unlink(" + quoted(path) + ")").message());
}

const std::string& stub_path() {
    static const std::string path = std::string(kRootfsLibDir) + "/" + kInitStubName;
    return path;
}

bool pid1_is_stub() {
    auto exe = stat_path("/proc/1/exe");
    auto stub = stat_path(stub_path());
    return exe && stub && same_inode(*exe, *stub);
}

// After the real init took PID 1 back: what return does last.
void return_tail() {
    forget(kDetachRecord);
    forget(kAutoReturnRecord);
    forget(kDhcpClientsRecord);
    if (auto s = remove_tools(); !s) log_warning("recover: removing the tools enter brought into RAM: " + s.error().message());
    thaw_network_step(kNetworkRecord);
    forget(kNetworkRecord);
    remark_deferred_removals();
}

// The undo of enter once PID 1 is the stub, as enter's own undo stack
// does it: the root back on top, SIGUSR1, and the real init boots.
Status hand_pid1_back(const RootSwitcher& root_switch) {
    if (auto s = root_switch.put_real_root_back(); !s) return s.error().context("putting the root back");
    if (::kill(1, SIGUSR1) != 0) return sys_error("kill(1, SIGUSR1)");
    for (int i = 0; i < 300 && pid1_is_stub(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (pid1_is_stub()) return plain_error("offroot-init did not hand PID 1 back within 30 s (see dmesg)");
    return {};
}

Status recover_enter(const TransitionRecord& r, const SystemStatus& status) {
    const RootSwitcher& root_switch = status.emergency->switcher();
    if (status.state == SystemState::normal) {
        note_transition_step("undo-enter");
        // Before stop-services nothing was stopped: the admin's own choice
        // of what runs is left as it is.
        const bool services_untouched = r.step == "starting" || r.step == "preflight" ||
                                        r.step == "snapshot-network" || r.step == "hold-dhcp-leases" ||
                                        r.step == "bring-tools";
        if (services_untouched) {
            log_info("recover: the root never left and no service was stopped (step " + r.step + ")");
        } else {
            log_info("recover: the root never left; starting the services again through the init");
            auto init = detect_running_init();
            if (!init) return init.error().context("which init to start the services with");
            auto started = start_services(*init, real_root_view(status).root());
            if (!started) return started.error().context("starting the services again");
        }
        if (auto s = remove_tools(); !s) return s.error().context("removing the tools enter brought into RAM");
        forget(kDetachRecord);
        forget(kNetworkRecord);
        // From hold-dhcp-leases on, the clients it killed (its record says
        // which) are started again, as enter's own undo does.
        if (r.step != "starting" && r.step != "preflight" && r.step != "snapshot-network") {
            if (auto s = restart_killed_clients(kDhcpClientsRecord, real_root_view(status).root(), "recover"); !s)
                log_warning("recover: " + s.error().message());
        } else {
            forget(kDhcpClientsRecord);
        }
        if (auto s = remove_stub_binds(real_root_view(status), stub_path(), "recover"); !s) return s;
        log_info("recover: enter undone, NORMAL");
        return {};
    }
    if (status.state == SystemState::detached) {
        log_info("recover: enter had freed the disk: DETACHED, nothing left to do");
        return {};
    }
    if (status.pid1_is_stub && status.real_root_aside && !status.real_root_on_top) {
        note_transition_step("undo-enter");
        log_info("recover: PID 1 is offroot-init and the root is aside; undoing enter as it undoes itself: the root "
                 "back on top, PID 1 back to the real init");
        // Before the root goes back: the stub bound over the init's binary
        // would be what the stub executes as the real init.
        if (auto s = remove_stub_binds({root_switch.pid1_environment_prefix(), root_switch.pid1_mountinfo()},
                                       stub_path(), "recover");
            !s)
            return s;
        if (auto s = hand_pid1_back(root_switch); !s) return s;
        // The init boots with the root's /run as enter left it, where
        // ifupdown's state still has the interfaces up: ifup starts no
        // client again.
        if (auto s = restart_killed_clients(kDhcpClientsRecord, root_switch.real_root_from_environment().root(),
                                            "recover");
            !s)
            log_warning("recover: " + s.error().message());
        return_tail();
        log_info("recover: enter undone; the real init boots the services again");
        return {};
    }
    return plain_error("recover: offroot " + describe(r) + " stopped where recover cannot tell what is safe: " +
                           status.explanation,
                       "read " + std::string(kRamLog) + " for its last step; PID 1 may still re-execute into the stub");
}

Status recover_return(const TransitionRecord& r, const SystemStatus& status) {
    if (!status.pid1_is_stub && status.real_root_on_top) {
        note_transition_step("finish-return");
        log_info("recover: the real init is PID 1 again; finishing what return does last");
        return_tail();
        if (auto s = remove_stub_binds(real_root_view(status), stub_path(), "recover"); !s) return s;
        log_info("recover: return finished, NORMAL");
        return {};
    }
    ReturnOptions options;
    for (size_t i = 0; i < r.arguments.size(); ++i) {
        if (r.arguments[i] == "--root" && i + 1 < r.arguments.size()) options.root_device = r.arguments[++i];
        if (r.arguments[i] == "--fsck") options.fsck = true;
    }
    if (status.pid1_is_stub && status.real_root_aside && !status.real_root_on_top) {
        // What return mounted at /root (the root, its /dev /proc /sys, its
        // /run) goes, children first, so that it can start again.
        note_transition_step("unmount-root");
        const RootSwitcher& root_switch = status.emergency->switcher();
        auto table = MountTable::read(root_switch.pid1_mountinfo());
        if (!table) return table.error();
        const std::string prefix = root_switch.pid1_environment_prefix();
        for (const MountEntry* m : table->unmount_order("/root")) {
            const std::string target = prefix + m->mount_point;
            if (auto s = unmount(target, m->mount_point == "/root" ? 0 : MNT_DETACH); !s) return s;
            log_info("recover: unmounted " + target);
        }
    } else if (status.state != SystemState::detached) {
        return plain_error("recover: offroot " + describe(r) + " stopped where recover cannot tell what is safe: " +
                               status.explanation,
                           "read " + std::string(kRamLog) + " for its last step");
    }
    log_info("recover: running return again" + (options.root_device.empty() ? "" : " --root " + options.root_device) +
             (options.fsck ? " --fsck" : ""));
    return return_to_root(options);
}

}  // namespace

Status recover_transition(const TransitionRecord& interrupted) {
    auto status = read_system_status();
    if (!status) return status.error();
    if (!status->emergency || !status->emergency->we_run_in_rootfs)
        return plain_error("offroot recover runs in the emergency environment", "ssh -p 1022 root@this-host, then offroot recover");
    log_info("recover: offroot " + describe(interrupted) + ", was interrupted; the system is " + to_string(status->state) +
             ": " + status->explanation);
    if (interrupted.transition == "enter") return recover_enter(interrupted, *status);
    if (interrupted.transition == "return") return recover_return(interrupted, *status);
    return plain_error("recover: no way known to recover a transition named " + quoted(interrupted.transition),
                       "remove " + std::string(kTransitionRecord) + " once the system is as it should be");
}

}  // namespace offroot
