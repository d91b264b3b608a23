// NORMAL -> DETACHED. See transition.hpp; the steps are the plan of
// plan.cpp, in the same order.
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/swap.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kernel/block_device.hpp"
#include "kernel/device_mapper.hpp"
#include "kernel/kernel_cmdline.hpp"
#include "base/clock.hpp"
#include "base/duration.hpp"
#include "system/dhcp_clients.hpp"
#include "system/emergency.hpp"
#include "base/files.hpp"
#include "system/holders.hpp"
#include "system/journal_import.hpp"
#include "system/offline_tools.hpp"
#include "base/log.hpp"
#include "kernel/mount.hpp"
#include "kernel/mountinfo.hpp"
#include "kernel/network.hpp"
#include "transitions/network_steps.hpp"
#include "transitions/plan.hpp"
#include "kernel/processes.hpp"
#include "switches/root_switch.hpp"
#include "system/services.hpp"
#include "system/time_limit.hpp"
#include "transitions/transition.hpp"
#include "transitions/transition_worker.hpp"
#include "base/undo.hpp"

namespace offroot {

std::string serialize(const DetachRecord& r) {
    return "ROOT_DEVICE=" + r.root_device + "\nROOT_FS_TYPE=" + r.root_fs_type + "\nINIT=" + r.init_kind +
           "\nINIT_BINARY=" + r.init_binary + "\nROOT_MOUNT_DATA=" + r.root_mount_data + "\n";
}

Result<DetachRecord> parse_detach_record(const std::string& text) {
    DetachRecord r;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        start = end + 1;
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "ROOT_DEVICE") r.root_device = value;
        if (key == "ROOT_FS_TYPE") r.root_fs_type = value;
        if (key == "INIT") r.init_kind = value;
        if (key == "INIT_BINARY") r.init_binary = value;
        if (key == "ROOT_MOUNT_DATA") r.root_mount_data = value;
    }
    if (r.root_device.empty()) return plain_error("the detach record names no root device");
    return r;
}

std::string root_mount_data(const std::string& rootflags, const std::string& fs_type, const std::string& mount_root) {
    std::string data = rootflags;
    if (fs_type == "btrfs" && !mount_root.empty() && mount_root != "/") {
        const bool names_subvolume = ("," + data).find(",subvol=") != std::string::npos ||
                                     ("," + data).find(",subvolid=") != std::string::npos;
        if (!names_subvolume) data += (data.empty() ? "" : ",") + std::string("subvol=") + mount_root;
    }
    return data;
}

Result<DetachRecord> read_detach_record() {
    auto text = read_file(kDetachRecord);
    if (!text) return text.error();
    return parse_detach_record(*text);
}

namespace {

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// Names the processes that use a filesystem: for the message when it will
// not unmount.
std::string holders_of(dev_t dev) {
    auto processes = scan_processes();
    if (!processes) return "(cannot scan /proc)";
    std::string out;
    for (const auto& p : *processes) {
        if (p.kernel_thread) continue;
        if (uses_device(p, dev)) out += (out.empty() ? "" : ", ") + std::to_string(p.stat.pid) + " (" + p.stat.comm + ")";
    }
    return out.empty() ? "no process (a kernel user: swap, loop, another mount?)" : out;
}

// Bounded retries, as dracut's shutdown does; a kernel interface that stays
// busy is detached lazily (nothing of the disk is in it), a filesystem of
// the disk never is: the disk must end up free.
// `prefix` leads to the mount table's root from here ("" or "/proc/1/root").
Status unmount_one(const MountEntry& m, const std::string& prefix) {
    const std::string target = prefix + m.mount_point;
    for (int attempt = 1;; ++attempt) {
        if (::umount2(target.c_str(), 0) == 0) return {};
        int err = errno;
        if (err == EINVAL || err == ENOENT) return {};  // already gone with its parent
        // Nothing of the disk is in a kernel interface or in RAM: no point waiting.
        if (is_kernel_interface_fs(m.fs_type) || m.fs_type == "tmpfs" || m.fs_type == "ramfs")
            return unmount(target, MNT_DETACH);
        if (err != EBUSY || attempt >= 5) {
            return Error{"umount2(" + quoted(target) + ", 0)", err,
                         "held by " + holders_of(m.dev()) + "; stop them and run offroot enter again"};
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
}

std::string tool_names(const ToolPlan& plan) {
    std::string out;
    for (const auto& c : plan.commands) out += (out.empty() ? "" : " ") + c.name;
    return out.empty() ? "none" : out;
}

// A device-mapper device marked for deferred removal (Debian's boot of an
// encrypted LVM leaves the root LV and its mapping so) would vanish as the
// root is unmounted: kept while DETACHED, marked again by return.
Status hold_deferred_removals(UndoStack& undo) {
    if (!exists_nofollow("/sys/class/block")) return {};
    auto devices = list_dm_devices();
    if (!devices) return devices.error().context("reading the device-mapper devices");
    std::vector<std::string> held;
    for (const auto& d : *devices) {
        if (!d.deferred_remove) continue;
        if (auto s = cancel_deferred_removal(d.name); !s)
            return s.error().context(d.name + " is marked for removal when closed, and unmounting the root would close it");
        held.push_back(d.name);
        undo.push("keep " + d.name, [name = d.name]() { return defer_removal(name); });
        log_info("enter: kept " + d.name + " assembled (it was marked for removal once closed; return marks it again)");
    }
    if (held.empty()) return {};
    return write_file(kDmHeldRecord, serialize_dm_names(held), O_CREAT | O_TRUNC, 0600);
}

}  // namespace

bool pid1_is_stub() {
    auto exe = stat_path("/proc/1/exe");
    auto stub = stat_path(std::string(kRootfsLibDir) + "/" + kInitStubName);
    return exe && stub && same_inode(*exe, *stub);
}

// Polled every 10 ms: enter waits here twice and return once, and a
// coarser tick is time the admin waits for nothing (issue 13).
bool wait_pid1_is_stub(bool stub, int seconds) {
    for (int i = 0; i < seconds * 100 && pid1_is_stub() != stub; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return pid1_is_stub() == stub;
}

Status wait_pid1_off_device(const std::string& path) {
    auto fs = stat_path(path);
    if (!fs) return fs.error();
    std::string held;
    for (int i = 0; i < 500; ++i) {
        auto maps = read_file("/proc/1/maps");
        if (!maps) return maps.error();
        held.clear();
        for (const auto& m : parse_proc_maps(*maps))
            if (m.dev == fs->st_dev && held.find(m.path) == std::string::npos) held += " " + m.path;
        if (held.empty()) return {};
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return plain_error("PID 1 (offroot-init) still runs on files of the disk after 10 s:" + held,
                       "see the kernel log for offroot-init's messages");
}

Status enter_detached(const EnterOptions& options) {
    const double t0 = monotonic_seconds();
    if (auto s = make_dir(kStateDir, 0700); !s) return s;

    // --- preflight: changes nothing, refuses with the reasons.
    CheckOptions check_options;
    check_options.min_free_kib = options.min_free_kib;
    check_options.force_session_interface = options.force_session_interface;
    auto report = run_check(check_options);
    if (!report) return report.error().context("preflight");
    if (!report->go()) {
        std::string reasons;
        for (const auto& b : report->blockers) reasons += "\n  - " + b;
        return plain_error("refusing to enter, nothing was changed:" + reasons);
    }
    if (!report->system.emergency || !report->system.emergency->we_run_in_rootfs)
        return plain_error("offroot enter runs in the emergency environment", "ssh -p 1022 root@this-host, then offroot enter");
    const InitInfo init = report->init;
    // The cycle begins: its lines from here reach the journal after return
    // (system/journal_import.hpp).
    mark_cycle_enter();
    // The plan --dry-run prints is the table this run walks (plan.hpp).
    PlanRun run("enter", plan_enter(enter_inputs(*report)));
    // Its time is the check's too: that ran before the plan could exist.
    if (auto s = run.begin("preflight", t0); !s) return s;
    const auto cmdline = KernelCmdline::read("/proc/cmdline");
    const std::string rootflags = cmdline ? cmdline->value("rootflags").value_or("") : std::string();
    DetachRecord record{report->root_source, report->root_fs_type, to_string(init.kind), init.binary,
                        root_mount_data(rootflags, report->root_fs_type, report->root_mount_root)};
    if (auto s = check_block_device(record.root_device); !s)
        return s.error().context("the root filesystem's source is not a device offroot can free");
    if (auto s = write_file(kDetachRecord, serialize(record), O_CREAT | O_TRUNC, 0600); !s) return s;
    log_info("enter: " + record.root_device + " (" + record.root_fs_type +
             (record.root_mount_data.empty() ? "" : ", " + record.root_mount_data) + "), init " + to_string(init.kind));

    UndoStack undo;
    // The last return's wait for sshd is over with this enter.
    if (auto s = remove_time_limit(kSshdReturnRecord); !s) log_warning("enter: " + s.error().message());
    // The automatic return's time limit, counted from here: PID 1 watches
    // it once it is the stub (system/time_limit.hpp). An enter that undoes
    // itself takes it away again; one that stops short of NORMAL leaves it.
    if (options.time_limit_seconds > 0) {
        if (auto s = write_time_limit(kAutoReturnRecord, time_limit_from(boottime_seconds(), options.time_limit_seconds)); !s)
            return s.error().context("setting the time limit");
        undo.push("time-limit", []() { return remove_time_limit(kAutoReturnRecord); });
        log_info("enter: time limit " + format_duration(options.time_limit_seconds) +
                 ": PID 1 returns to the root on its own when it runs out, unless offroot extend or offroot confirm "
                 "comes from the emergency session");
    } else if (auto s = remove_time_limit(kAutoReturnRecord); !s) {
        return s.error().context("removing the time limit of an earlier enter");
    }
    const RootSwitcher& root_switch = report->system.emergency->switcher();
    // Before the switch: the real root as seen from here. After it: PID 1
    // lives in the environment, and the real root is at <prefix>/root.
    const RealRootView real_root = real_root_view(report->system);
    const std::string rootfs = root_switch.pid1_environment_prefix();
    const std::string aside = rootfs + "/root";
    log_info("enter: root switch " + to_string(root_switch.kind()));

    run.done();

    // --- the network, as the kernel has it now.
    if (auto s = run.begin("snapshot-network"); !s) return s;
    auto network = snapshot_network_step(kNetworkRecord);
    if (!network) return network.error();
    // Name resolution for the tools of the 1022 session once resolved and
    // the real /etc are gone: the upstream servers, not resolved's stub.
    for (const char* source : {"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"}) {
        auto dns = read_file(real_root.path(source));
        if (!dns) continue;
        if (auto s = write_file("/etc/resolv.conf", *dns, O_CREAT | O_TRUNC, 0644); !s)
            log_warning("keeping the DNS servers: " + s.error().message());
        break;
    }
    run.done();

    // --- the DHCP clients, before any stop logic can release their leases.
    if (auto s = run.begin("hold-dhcp-leases"); !s) return s;
    if (auto s = hold_dhcp_leases_step(*network, kNetworkRecord, kDhcpClientsRecord, real_root.root(), undo); !s) return s;
    run.done();

    // --- the admin's tools into RAM, while the root is there to copy from.
    if (auto s = run.begin("bring-tools"); !s) return s;
    auto brought = bring_tools(report->tools, real_root.root());
    if (!brought) return brought.error();
    undo.push("bring-tools", []() { return remove_tools(); });
    for (const auto& w : *brought) log_warning("enter: tool: " + w);
    log_info("enter: " + std::to_string(report->tools.commands.size()) + " tools in RAM (" +
             std::to_string(report->tools_kib) + " KiB): " + tool_names(report->tools));
    run.done();

    // --- the services, stopped by the init system itself.
    if (auto s = run.begin("stop-services"); !s) return s;
    // The undo comes first: a stop that fails half-way (a job that never
    // ends) has stopped some of them.
    undo.push("stop-services", [init, real_root]() -> Status {
        auto r = start_services(init, real_root.root());
        if (!r) return r.error();
        return {};
    });
    auto stopped = stop_services(init, real_root.root());
    if (!stopped) return stopped.error().context("stopping the services");
    const double services_seconds = run.done();

    // --- the real root aside, into <environment>:/root.
    const std::string stub_path = std::string(kRootfsLibDir) + "/" + kInitStubName;
    auto stub = stat_path(stub_path);
    if (!stub) return stub.error();
    // The switch's four steps, by the names its plan gives them: the root
    // aside, the stub placed, PID 1 re-executed, the placement removed.
    const auto switch_steps = root_switch.enter_steps(reexec_paths(init), stub_path, init.reexec_command);
    if (switch_steps.size() != 4)
        return plain_error("enter and its plan disagree: the root switch plans " + std::to_string(switch_steps.size()) +
                           " steps, enter runs 4");
    if (auto s = run.begin(switch_steps[0].name); !s) return s;
    if (auto s = root_switch.put_real_root_aside(real_root, undo); !s) return s;
    run.done();

    // --- PID 1 becomes the stub by re-executing.
    if (auto s = run.begin(switch_steps[1].name); !s) return s;
    UndoStack stub_placement;
    if (auto s = root_switch.lead_pid1_to_stub(reexec_paths(init), stub_path, stub_placement); !s) return s;
    run.done();
    if (auto s = run.begin(switch_steps[2].name); !s) return s;
    // On failure below, stub_placement (declared after undo) is rolled
    // back first, then the switch.
    if (auto s = request_reexec(init, aside); !s) return s.error().context("asking PID 1 to re-execute");
    if (!wait_pid1_is_stub(true, 30)) return plain_error("PID 1 did not become offroot-init within 30 s of " + init.reexec_command);
    // Started in the real root, the stub runs again from the environment
    // (init_stub.cpp) to let go of the disk's C library.
    if (auto on_disk = wait_pid1_off_device(aside); !on_disk) return on_disk;
    // From here the way back is the return path: the real root in place
    // again and SIGUSR1, and the real init boots as after the initramfs.
    undo.commit();
    // Run after the real init got PID 1 back. It boots with the root's /run
    // as enter left it, where ifupdown's state still has the interfaces up:
    // ifup -a starts no client again, and one the init does start is seen
    // running and left alone. real_root, taken before the switch, leads to
    // the real root again once it is back in place.
    undo.push("hold-dhcp-leases", [real_root]() {
        return restart_killed_clients(kDhcpClientsRecord, real_root.root(), "enter");
    });
    undo.push("replace-pid1", [&root_switch]() -> Status {
        if (auto s = root_switch.put_real_root_back(); !s) return s;
        if (::kill(1, SIGUSR1) != 0) return sys_error("kill(1, SIGUSR1)");
        // NORMAL again: no automatic return to watch.
        if (auto s = remove_time_limit(kAutoReturnRecord); !s) return s;
        return remove_tools();
    });
    run.done();
    // The stub runs from its own file now; what led PID 1 to it goes.
    if (auto s = run.begin(switch_steps[3].name); !s) return s;
    if (!stub_placement.rollback()) log_warning("could not remove all that led PID 1 to the stub (logged above)");
    run.done();

    // --- what still runs from the disk: TERM, bounded wait, KILL.
    if (auto s = run.begin("kill-leftovers"); !s) return s;
    auto env = find_emergency_environment();
    if (!env || !*env) return plain_error("the emergency environment vanished");
    auto processes = scan_processes(ScanOptions{.proc = "/proc", .with_files = false});
    if (!processes) return processes.error();
    // Spared: the processes that share our root mount, i.e. the sessions.
    // By root directory alone, after a pivot every leftover service would
    // look like one of ours: they all have the environment as their root.
    std::vector<pid_t> spared;
    if (const auto own_mount = mount_id_of("/proc/self/root"); own_mount) {
        for (const auto& p : *processes)
            if (p.root_mount_id == own_mount) spared.push_back(p.stat.pid);
    } else if (root_switch.leftovers_share_sessions_root()) {
        return plain_error("the kernel does not report mount ids (statx STATX_MNT_ID): cannot tell the sessions "
                           "from the services after pivot_root");
    } else {
        spared = (*env)->processes;
    }
    // A module load is waited for, never signalled (kernel/processes.hpp,
    // is_module_loader): killing one in the middle crashed a guest's kernel.
    std::vector<pid_t> victims, loaders;
    for (pid_t pid : select_processes_to_stop(*processes, spared, ::getpid())) {
        const auto p = std::find_if(processes->begin(), processes->end(),
                                    [pid](const Process& q) { return q.stat.pid == pid; });
        if (p != processes->end() && is_module_loader(p->stat, current_syscall(pid))) {
            loaders.push_back(pid);
            log_info("enter: waiting for " + p->stat.comm + " (pid " + std::to_string(pid) +
                     ") to finish loading a kernel module, unsignalled");
        } else {
            victims.push_back(pid);
        }
    }
    if (auto s = kill_network_daemons(*processes, victims); !s) return s;
    for (pid_t pid : victims)
        if (::kill(pid, SIGTERM) != 0 && errno != ESRCH) return sys_error("kill(" + std::to_string(pid) + ", SIGTERM)");
    const double kill_deadline = monotonic_seconds() + options.kill_grace_seconds;
    auto alive_of = [](const std::vector<pid_t>& pids) {
        std::vector<pid_t> left;
        for (pid_t pid : pids)
            if (alive(pid)) left.push_back(pid);
        return left;
    };
    auto remaining = [&]() { return alive_of(victims); };
    // Most are gone within milliseconds of SIGTERM: a fine tick.
    while ((!remaining().empty() || !alive_of(loaders).empty()) && monotonic_seconds() < kill_deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (auto loading = alive_of(loaders); !loading.empty()) {
        std::string names;
        for (pid_t pid : loading) {
            auto comm = read_file("/proc/" + std::to_string(pid) + "/comm");
            names += " " + std::to_string(pid) + " (" + (comm ? comm->substr(0, comm->find('\n')) : "?") + ")";
        }
        return plain_error("a kernel module was still loading " + format_duration(options.kill_grace_seconds) +
                               " after the services stopped:" + names +
                               "; not killed, since a module load cut short by a signal can crash the kernel",
                           "run offroot enter again once it is done (lsmod, dmesg)");
    }
    auto stubborn = remaining();
    // Named: a service that ignores SIGTERM costs every enter the whole
    // grace period, and its stop logic is what to fix.
    std::string stubborn_names;
    for (pid_t pid : stubborn) {
        auto comm = read_file("/proc/" + std::to_string(pid) + "/comm");
        stubborn_names += " " + std::to_string(pid) + " (" + (comm ? comm->substr(0, comm->find('\n')) : "?") + ")";
        ::kill(pid, SIGKILL);
    }
    for (int i = 0; i < 50 && !remaining().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log_info("enter: stopped " + std::to_string(victims.size()) + " processes (" + std::to_string(stubborn.size()) +
             " needed SIGKILL" + (stubborn.empty() ? "" : ":" + stubborn_names) + ")");
    if (auto left = remaining(); !left.empty()) {
        std::string names;
        for (pid_t pid : left) names += " " + std::to_string(pid);
        return plain_error("processes survived SIGKILL (stuck in the kernel?):" + names);
    }
    // journald is gone with the rest, its /run still mounted.
    mark_cycle_journald_place(aside + "/run");
    run.done();

    if (auto s = run.begin("restore-network"); !s) return s;
    // A network that did not come back undoes enter: the admin would be
    // left with a detached host out of reach.
    if (auto s = restore_network_step(*network, admin_peer(), undo); !s)
        return s.error().context("the network is not as it was before enter, undoing enter");
    run.done();

    // --- swap and loop devices on the disk, then every mount, children
    // first, in the plan's order.
    if (auto s = run.begin("keep-dm-devices"); !s) return s;
    if (auto s = hold_deferred_removals(undo); !s) return s;
    run.done();
    for (const auto& sw : report->swaps) {
        if (auto s = run.begin("swapoff"); !s) return s;
        const std::string path = sw.name.rfind("/dev/", 0) == 0 ? sw.name : aside + sw.name;
        if (::swapoff(path.c_str()) != 0) return sys_error("swapoff(" + quoted(path) + ")");
        // Undone before the root goes back (newest first): a swap file is
        // still reachable at the same path then.
        undo.push("swapoff " + path, [path]() -> Status {
            if (::swapon(path.c_str(), 0) != 0) return sys_error("swapon(" + quoted(path) + ", 0)");
            return {};
        });
        log_info("enter: swapoff " + path);
        run.done();
    }
    if (auto s = run.begin("unmount-submounts"); !s) return s;
    auto table = MountTable::read(root_switch.pid1_mountinfo());
    if (!table) return table.error();
    std::vector<const MountEntry*> order = table->unmount_order("/root");
    for (const MountEntry* m : order) {
        if (m->mount_point == "/root") continue;
        if (auto s = unmount_one(*m, rootfs); !s) return s.error();
    }
    run.done();
    for (const auto& l : report->loop_devices) {
        if (auto s = run.begin("detach-loop"); !s) return s;
        const std::string dev = l.substr(0, l.find(' '));
        auto fd = open_path(dev, O_RDONLY);
        if (!fd) return fd.error();
        if (::ioctl(fd->get(), LOOP_CLR_FD, 0) != 0) return sys_error("ioctl(" + quoted(dev) + ", LOOP_CLR_FD)");
        log_info("enter: detached " + dev);
        run.done();
    }
    if (auto s = run.begin("unmount-root"); !s) return s;
    for (const MountEntry* m : order) {
        if (m->mount_point != "/root") continue;
        if (auto s = unmount_one(*m, rootfs); !s) return s.error();
    }
    // With the root unmounted nothing can be put back: the way back is
    // offroot return, as the plan says.
    undo.commit();
    run.done();
    if (auto s = run.begin("verify-free"); !s) return s;
    if (auto s = check_device_free(record.root_device); !s)
        return s.error().context(record.root_device + " is still in use after every mount went away");
    run.done();
    if (auto s = run.finish(); !s) return s;

    const double total = monotonic_seconds() - t0;
    mark_cycle_detached();
    log_info("DETACHED: " + record.root_device + " is free, " + seconds_text(total) + " after offroot enter (services " +
             seconds_text(services_seconds) + ", offroot " + seconds_text(total - services_seconds) + ")");
    return {};
}

Result<WorkerExit> continue_enter_in_rootfs(const std::string& rootfs_path, bool force_session_interface,
                                            const std::string& time_limit,
                                            const std::function<void(pid_t)>& handed_over) {
    // enter checks the route back to the admin's address; built before
    // fork, which leaves the child nothing to allocate.
    const char* connection = std::getenv("SSH_CONNECTION");
    std::string ssh = std::string("SSH_CONNECTION=") + (connection ? connection : "");
    // The new command line, too: the child must not allocate.
    std::string self = "/usr/sbin/offroot", enter = "enter", force = "--force-network", timeout_option = "--timeout",
                timeout = time_limit;
    std::vector<char*> argv{self.data(), enter.data()};
    if (force_session_interface) argv.push_back(force.data());
    if (!timeout.empty()) {
        argv.push_back(timeout_option.data());
        argv.push_back(timeout.data());
    }
    argv.push_back(nullptr);
    // This session follows the log in RAM until it is closed under us
    // (stop-services ends it, or kill-leftovers). The enter in rootfs
    // writes its own last words (a refusal, "busy") on stderr: the log
    // too, so they reach us; its stdout, where it copies the worker's
    // lines, goes nowhere, or they would come back to it.
    const std::string log_path = rootfs_path + kRamLog;
    if (auto s = make_dir(rootfs_path + kStateDir, 0700); !s) return s.error();
    auto log = open_followed_log(log_path);
    if (!log) return log.error();
    auto old_mask = block_follower_signals();
    if (!old_mask) return old_mask.error();
    pid_t child = ::fork();
    if (child == 0) {
        ::setsid();
        ::signal(SIGHUP, SIG_IGN);
        ::sigprocmask(SIG_SETMASK, &*old_mask, nullptr);
        // systemd (257 does, 252 did not) stops the login session's scope
        // when it isolates the detached target, killing everything in that
        // cgroup: leave it for the root cgroup, where the emergency
        // environment lives since the initramfs. "0" is the writer itself.
        for (const char* procs : {"/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/systemd/cgroup.procs"})
            if (write_file(procs, "0", O_WRONLY, 0)) break;
        if (::chroot(rootfs_path.c_str()) != 0 || ::chdir("/") != 0) ::_exit(126);
        if (::dup2(log->null.get(), STDIN_FILENO) < 0 || ::dup2(log->null.get(), STDOUT_FILENO) < 0 ||
            ::dup2(log->out.get(), STDERR_FILENO) < 0)
            ::_exit(126);
        char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
        char* envp[] = {path, ssh.data(), nullptr};
        ::execve(self.c_str(), argv.data(), envp);
        ::_exit(127);
    }
    const int fork_errno = errno;
    log->out.reset();
    start_following(*old_mask);
    if (child < 0) return sys_error("fork()", fork_errno);
    handed_over(child);
    const std::string pid = std::to_string(child);
    return follow_child(child, log->in.get(), log_path,
                        FollowWords{"offroot enter in the emergency environment (pid " + pid + ")",
                                    "offroot status on port 1022 says where it stopped",
                                    "offroot enter goes on inside the emergency environment (pid " + pid +
                                        "). Reconnect with: ssh -p 1022 root@<this host>, then: offroot status"});
}

}  // namespace offroot
