// DETACHED -> NORMAL. See transition.hpp.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <thread>

#include "kernel/block_device.hpp"
#include "kernel/device_mapper.hpp"
#include "kernel/elf.hpp"
#include "kernel/kernel_cmdline.hpp"
#include "system/dhcp_clients.hpp"
#include "system/fstab.hpp"
#include "system/ifupdown_state.hpp"
#include "system/init_system.hpp"
#include "system/journal_import.hpp"
#include "system/offline_tools.hpp"
#include "system/persist.hpp"
#include "system/time_limit.hpp"
#include "system/udev_db.hpp"
#include "base/clock.hpp"
#include "base/duration.hpp"
#include "system/emergency.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "base/text.hpp"
#include "kernel/mount.hpp"
#include "switches/root_switch.hpp"
#include "base/subprocess.hpp"
#include "transitions/network_steps.hpp"
#include "transitions/plan.hpp"
#include "transitions/transition.hpp"
#include "base/undo.hpp"

namespace offroot {

Status fsck_verdict(const std::string& command, int exit_status, const std::string& device) {
    // e2fsck: 0 clean, 1 errors corrected; anything above needs a human,
    // and so does a checker that was killed or crashed (-1): it proved
    // nothing.
    if (exit_status < 0)
        return plain_error(command + " did not finish: killed by a signal or by the time limit",
                           "check the filesystem by hand (e2fsck -f " + device + ") before returning");
    if (exit_status > 1)
        return plain_error(command + " exited with status " + std::to_string(exit_status),
                           "repair the filesystem by hand (e2fsck " + device + ") before returning");
    return {};
}

namespace {

// /dev/vda1 and /dev/disk/by-uuid/... name one device.
bool same_block_device(const std::string& a, const std::string& b) {
    if (a == b) return true;
    auto sa = stat_path(a), sb = stat_path(b);
    return sa && sb && S_ISBLK(sa->st_mode) && S_ISBLK(sb->st_mode) && sa->st_rdev == sb->st_rdev;
}

bool sshd_answers() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(22);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0;
    if (ok) {
        // An answer is its banner, not just an accepted connection.
        struct timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[8] = {};
        ok = ::read(fd, buf, 4) == 4 && std::string(buf, 4) == "SSH-";
    }
    ::close(fd);
    return ok;
}

Status run_fsck(const std::string& device, const std::string& fs_type) {
    Command c;
    if (fs_type.rfind("ext", 0) == 0) {
        c.argv = {"e2fsck", "-p", device};
    } else {
        return plain_error("--fsck: no checker known for " + fs_type, "run the filesystem's own fsck, then return without --fsck");
    }
    c.timeout_seconds = 3600;
    auto r = run_command(c);
    if (!r) return r.error();
    log_info("return: " + describe(c) + " -> " + std::to_string(r->exit_status) + "\n" + r->output);
    return fsck_verdict(describe(c), r->exit_status, device);
}

// Bounded, and short: it runs once sshd answers, and a syslog daemon
// starts before sshd ($syslog in ssh's Required-Start), so a /dev/log
// still missing by then means none is installed; a warning says where the
// lines stay then.
void import_log_at_return() {
    ImportOptions options;
    options.wait_seconds = 2;
    options.close_range = true;
    auto imported = import_cycle_log(options);
    if (!imported)
        log_warning("return: the cycle's log stays in the kernel ring buffer (dmesg) and " + std::string(kRamLog) +
                    ": " + imported.error().message());
    else
        log_info("return: " + imported->summary);
}

}  // namespace

// The device-mapper devices enter kept from their deferred removal are
// marked again, as boot left them; one nothing holds any more (the root
// moved to another device) is left assembled: removing it is the admin's
// call, not ours.
void remark_deferred_removals() {
    auto text = read_file(kDmHeldRecord);
    if (!text) return;
    for (const auto& name : parse_dm_names(*text)) {
        if (auto s = defer_removal(name); !s)
            log_warning("return: " + name + " stays assembled: " + s.error().message());
        else
            log_info("return: " + name + " is marked for removal once closed again, as boot left it");
    }
    ::unlink(kDmHeldRecord);
}

Status return_to_root(const ReturnOptions& options) {
    const double t0 = monotonic_seconds();

    auto status = read_system_status();
    if (!status) return status.error();
    if (status->state != SystemState::detached)
        return plain_error("the system is " + to_string(status->state) + ", not DETACHED: nothing to return from",
                           status->explanation);
    if (!status->emergency || !status->emergency->we_run_in_rootfs)
        return plain_error("offroot return runs in the emergency environment (ssh -p 1022)");

    mark_cycle_return();
    std::string device = options.root_device;
    std::string fs_type;
    const auto record = read_detach_record();
    if (device.empty()) {
        if (!record) return record.error().context("no --root given, and the root enter took away is unknown");
        device = record->root_device;
    }
    // The plan --dry-run prints is the table this run walks (plan.hpp).
    PlanRun plan("return", plan_return(return_inputs(*status, device, options.fsck)));
    // Everything that can refuse does so before anything changes.
    if (auto s = plan.begin("check-device"); !s) return s;
    if (auto s = check_block_device(device); !s) return s;
    auto probed = probe_filesystem(device);
    if (!probed) return probed.error();
    fs_type = *probed;
    if (auto s = check_device_free(device); !s) return s.error().context(device + " is in use");
    plan.done();
    if (options.fsck) {
        if (auto s = plan.begin("fsck"); !s) return s;
        if (auto s = run_fsck(device, fs_type); !s) return s;
        plan.done();
    }

    // PID 1 (the stub) lives in rootfs; the root is mounted at rootfs:/root
    // as PID 1 sees it (our sessions' bind of rootfs under the pivot switch
    // does not show rootfs' own mounts).
    const RootSwitcher& root_switch = status->emergency->switcher();
    const std::string root_dir = root_switch.pid1_environment_prefix() + "/root";

    UndoStack undo;
    if (auto s = plan.begin("mount-root"); !s) return s;
    if (auto s = make_dir("/root", 0700); !s) return s;
    // Read-only, as the initramfs mounts it: the init remounts it per fstab.
    // With the options it had when it is the root enter took away (its
    // subvolume, rootflags=); a new device gets none.
    std::string data;
    if (record && same_block_device(record->root_device, device)) data = record->root_mount_data;
    if (auto s = mount_fs(device, root_dir, fs_type, MS_RDONLY, data); !s) return s.error().context("mounting the root");
    undo.push("mount-root", [root_dir]() { return unmount(root_dir, 0); });
    log_info("return: mounted " + device + " (" + fs_type + (data.empty() ? "" : ", " + data) + ") on /root");
    plan.done();

    if (auto s = plan.begin("check-root"); !s) return s;
    // The init the stub will exec, as the kernel command line names it:
    // one that cannot start leaves PID 1 with nothing to run. Refused here,
    // the mounts go and the system stays DETACHED.
    {
        auto cmdline = KernelCmdline::read("/proc/cmdline");
        const std::string init = cmdline ? cmdline->init_path() : std::string("/sbin/init");
        if (auto s = check_program_runs_in(root_dir, init, "the init"); !s)
            return s.error().context("refusing to return onto " + device + ", still DETACHED");
        if (auto s = check_fstab_names_root(root_dir, device); !s)
            return s.error().context("refusing to return onto " + device + ", still DETACHED");
        log_info("return: " + init + " and what it loads are in " + device);
    }
    plan.done();
    // Read while the root is at hand, said at the end: a root the next
    // boot does not know is lost again at reboot.
    std::string drift_warning;
    if (auto drift = read_boot_drift(root_dir, device); !drift)
        log_warning("return: what the next boot takes is unknown: " + drift.error().message());
    else if (*drift)
        drift_warning = "return: " + (*drift)->message();

    if (auto s = plan.begin("give-kernel-filesystems"); !s) return s;
    struct Bind {
        const char* source;
        const char* target;
        bool recursive;
    };
    for (const Bind& b : {Bind{"/dev", "dev", true}, Bind{"/proc", "proc", false}, Bind{"/sys", "sys", false}}) {
        const std::string target = path_join(root_dir, b.target);
        if (auto s = bind_mount(b.source, target, b.recursive); !s)
            return s.error().context("giving the root its kernel filesystems");
        undo.push("bind " + target, [target]() { return unmount(target, MNT_DETACH); });
    }
    // A fresh /run, as initramfs-tools' init makes one.
    const std::string run = root_dir + "/run";
    if (auto s = mount_fs("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=10%"); !s)
        return s.error().context("a fresh /run for the root");
    undo.push("tmpfs " + run, [run]() { return unmount(run, MNT_DETACH); });
    // udev's database from the /run the system ran with (ours is a bind of
    // it), as the initramfs hands its own over at boot.
    if (auto s = carry_udev_database("/run", run); !s)
        log_warning("carrying udev's database into the root: " + s.error().message() +
                    "; device-mapper devices may wait for udev after return");
    // ifupdown's record of what it brought up, which offroot kept up: the
    // init's ifup -a leaves those alone instead of failing on them. Not the
    // interfaces whose DHCP client enter killed: ifup starts it again.
    {
        const auto dhcp = killed_client_interfaces(kDhcpClientsRecord);
        std::vector<std::string> carried;
        if (auto s = carry_ifupdown_state("/run", run, dhcp.names, dhcp.all, carried); !s)
            log_warning("carrying ifupdown's state into the root: " + s.error().message() +
                        "; its ifup -a may fail on interfaces that stayed up");
        else if (!carried.empty())
            log_info("return: ifupdown's state carried for " + join(carried, ", ") +
                     (dhcp.names.empty() ? std::string() : "; not for " + join(dhcp.names, ", ") + " (DHCP)"));
    }
    // journald's place in the kernel's ring buffer, which the fresh /run
    // would lose, and what it missed since enter, for the import
    // (system/journal_import.hpp).
    const bool sysvinit = record && record->init_kind == to_string(InitSystem::sysvinit);
    mark_cycle_handover(run, sysvinit);
    // The emergency dropbear's pidfile, so that the real system finds it.
    if (auto pidfile = read_file(kDropbearPidfile); pidfile) {
        if (make_dir(run + "/offroot", 0755))
            if (auto s = write_file(root_dir + kDropbearPidfile, *pidfile, O_CREAT | O_TRUNC, 0644); !s)
                log_warning("copying the dropbear pidfile: " + s.error().message());
    }

    // The switch's own steps, by the names its plan gives them.
    const auto switch_steps = root_switch.return_steps("");
    if (switch_steps.size() != 2)
        return plain_error("return and its plan disagree: the root switch plans " + std::to_string(switch_steps.size()) +
                           " steps, return runs 2");
    plan.done();
    if (auto s = plan.begin(switch_steps[0].name); !s) return s;
    if (auto s = root_switch.put_root_in_place(undo); !s) return s;
    plan.done();
    if (auto s = plan.begin(switch_steps[1].name); !s) return s;

    if (::kill(1, SIGUSR1) != 0) return sys_error("kill(1, SIGUSR1)");
    if (!wait_pid1_is_stub(false, 30)) return plain_error("offroot-init did not hand PID 1 back within 30 s (see dmesg)");
    undo.commit();
    plan.done();
    ::unlink(kDetachRecord);
    // For offroot status and persist: the root as the admin named it, and
    // the one the boot came from.
    if (auto s = replace_file(kReturnRecord, serialize(ReturnRecord{device, record ? record->root_device : ""}), 0644); !s)
        log_warning("return: " + s.error().message());
    // The stay off the disk is over: no automatic return to watch, and
    // sshd's own time limit starts (system/time_limit.hpp).
    if (auto s = remove_time_limit(kAutoReturnRecord); !s) log_warning("return: " + s.error().message());
    if (auto s = write_time_limit(kSshdReturnRecord, time_limit_from(boottime_seconds(), options.sshd_wait_seconds)); !s)
        log_warning("return: recording sshd's time limit for offroot status: " + s.error().message());
    // The tools brought in at enter go: their RAM is the system's again.
    if (auto s = remove_tools(); !s) log_warning("removing the tools enter brought into RAM: " + s.error().message());
    // The init's own network configuration is in charge from here: the
    // lifetimes enter made infinite run again, for its clients to renew.
    if (auto s = plan.begin("thaw-network"); !s) log_warning(s.error().message());
    thaw_network_step(kNetworkRecord);
    ::unlink(kNetworkRecord);
    // The clients hold-dhcp-leases killed are the init's to start again.
    ::unlink(kDhcpClientsRecord);
    plan.done();
    if (auto s = plan.begin("defer-dm-removal"); !s) log_warning(s.error().message());
    remark_deferred_removals();
    plan.done();
    log_info("return: PID 1 is the real init again, " + std::to_string(monotonic_seconds() - t0).substr(0, 4) +
             " s after offroot return");

    // Past the hand-over nothing may fail the return: a drift is a warning.
    if (auto s = plan.begin("wait-for-sshd"); !s) log_warning(s.error().message());
    if (auto s = plan.finish(); !s) log_warning(s.error().message());
    const double deadline = monotonic_seconds() + static_cast<double>(options.sshd_wait_seconds);
    while (monotonic_seconds() < deadline && !sshd_answers()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!sshd_answers()) {
        // The record stays: offroot status on 1022 says the same.
        log_warning("sshd on port 22 did not answer within " + format_duration(options.sshd_wait_seconds) +
                    " of offroot return; the emergency session on port 1022 is still available");
    } else {
        if (auto s = remove_time_limit(kSshdReturnRecord); !s) log_warning("return: " + s.error().message());
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.1f", monotonic_seconds() - t0);
        log_info(std::string("NORMAL: sshd on port 22 answers, ") + buf + " s after offroot return");
    }
    // sysvinit has no journald reading the ring buffer: the cycle goes to
    // syslog from here, once its daemon listens (systemd's import is a unit
    // of its own, offroot-import-log.service, after journald).
    if (sysvinit) import_log_at_return();
    if (!drift_warning.empty()) log_warning(drift_warning);
    return {};
}

}  // namespace offroot
