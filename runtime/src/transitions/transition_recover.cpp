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
//   enter, PID 1 still the real init and the root aside (died after
//     move-root-aside, placing the stub, or asking PID 1 to re-execute:
//     a re-exec on its way is waited for, 30 s, and then it is the case
//     above): what led to the stub goes, the root back on top, then as
//     for a root that never left;
//   enter that had freed the disk (DETACHED): finished, nothing to do;
//   return before the switch (DETACHED, or the root mounted at /root by
//     it): what it mounted goes, and it runs again with its arguments;
//   return with the root in place and the stub still PID 1 (died before
//     or while signalling it): SIGUSR1, then as below;
//   return after the hand-over (the real init is PID 1): its tail done
//     (records, tools in RAM, network lifetimes).
// Anything else is refused with what status says: a guess there can lose
// the server.
// Every step of both is tried by tests/vm/faults.sh (OFFROOT_TEST_KILL_AT,
// transitions/plan.cpp).
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
#include "system/persist.hpp"
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

// With a root in place: SIGUSR1, and the stub execs the real init.
Status signal_stub() {
    if (::kill(1, SIGUSR1) != 0) return sys_error("kill(1, SIGUSR1)");
    if (!wait_pid1_is_stub(false, 30)) return plain_error("offroot-init did not hand PID 1 back within 30 s (see dmesg)");
    return {};
}

// The undo of enter once PID 1 is the stub, as enter's own undo stack
// does it: the root back on top, SIGUSR1, and the real init boots.
Status hand_pid1_back(const RootSwitcher& root_switch) {
    if (auto s = root_switch.put_real_root_back(); !s) return s.error().context("putting the root back");
    return signal_stub();
}

Status recover_enter(const TransitionRecord& r, const SystemStatus& status);

// enter died with the root aside and PID 1 still the real init: after
// move-root-aside, after placing the stub, or asking PID 1 to re-execute.
// The root goes back on top, what led to the stub goes, and from there it
// is the case of a root that never left, services stopped.
Status put_root_back_under_real_init(const TransitionRecord& r, const SystemStatus& status) {
    const RootSwitcher& root_switch = status.emergency->switcher();
    // The init as enter led it to the stub: from the record preflight
    // wrote. /proc/1/exe would name it from here, inside the root aside.
    auto record = read_detach_record();
    if (!record) return record.error().context("which init enter led to the stub");
    InitInfo init;
    init.binary = record->init_binary;
    for (InitSystem kind : {InitSystem::systemd, InitSystem::sysvinit})
        if (record->init_kind == to_string(kind)) init.kind = kind;
    if (r.step == "reexec-pid1") {
        // The request may be on its way: PID 1 re-executing into the stub
        // while the root goes back would leave it in the stub with the root
        // on top. Given the time enter gives it, then the stub's own case.
        log_info("recover: enter died asking PID 1 to re-execute; waiting up to 30 s for PID 1 to become offroot-init");
        if (wait_pid1_is_stub(true, 30)) {
            log_info("recover: PID 1 is offroot-init now");
            if (auto s = wait_pid1_off_device(root_switch.pid1_environment_prefix() + "/root"); !s) return s;
            auto now = read_system_status();
            if (!now) return now.error();
            return recover_enter(r, *now);
        }
        log_info("recover: PID 1 did not re-execute: it is still the real init");
    }
    note_transition_step("undo-enter");
    log_info("recover: PID 1 is the real init and the root is aside; putting the root back on top");
    if (auto s = root_switch.remove_stub_placement(reexec_paths(init), stub_path(), "recover"); !s) return s;
    if (auto s = root_switch.put_real_root_back(); !s) return s.error().context("putting the root back on top");
    auto now = read_system_status();
    if (!now) return now.error();
    if (now->state != SystemState::normal)
        return plain_error("recover: with the root back on top the system is " + to_string(now->state) + ": " +
                           now->explanation);
    return recover_enter(r, *now);
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
    if (!status.pid1_is_stub && status.real_root_aside && !status.real_root_on_top)
        return put_root_back_under_real_init(r, status);
    return plain_error("recover: offroot " + describe(r) + " stopped where recover cannot tell what is safe: " +
                           status.explanation,
                       "read " + std::string(kRamLog) + " for its last step");
}

Status recover_return(const TransitionRecord& r, const SystemStatus& status) {
    ReturnOptions options;
    for (size_t i = 0; i < r.arguments.size(); ++i) {
        if (r.arguments[i] == "--root" && i + 1 < r.arguments.size()) options.root_device = r.arguments[++i];
        if (r.arguments[i] == "--fsck") options.fsck = true;
    }
    bool handed_over = !status.pid1_is_stub && status.real_root_on_top;
    if (!handed_over && status.pid1_is_stub && status.real_root_on_top && !status.real_root_aside) {
        // Died with the root in place and the stub still PID 1: before or
        // while signalling it. A SIGUSR1 already sent is given a moment.
        note_transition_step("signal-stub");
        if (r.step == "signal-stub" && wait_pid1_is_stub(false, 5)) {
            log_info("recover: the stub had been signalled; the real init is PID 1");
        } else {
            log_info("recover: the root is in place and PID 1 is still offroot-init: SIGUSR1, as return does");
            if (auto s = signal_stub(); !s) return s;
        }
        handed_over = true;
    }
    if (handed_over) {
        note_transition_step("finish-return");
        log_info("recover: the real init is PID 1 again; finishing what return does last");
        // return records the root it went onto where it forgets the detach
        // record: one that died before that did not (status and persist
        // read it).
        if (auto detached = read_detach_record(); detached) {
            const std::string device = options.root_device.empty() ? detached->root_device : options.root_device;
            if (auto s = replace_file(kReturnRecord, serialize(ReturnRecord{device, detached->root_device}), 0644); !s)
                log_warning("recover: " + s.error().message());
        }
        return_tail();
        if (auto s = remove_stub_binds(real_root_view(status), stub_path(), "recover"); !s) return s;
        log_info("recover: return finished, NORMAL");
        return {};
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
