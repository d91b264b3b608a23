// offroot: the admin's command. Parses the command line, runs one command,
// turns its result into output and an exit code:
//   0  done / go     1  refused, no-go or failed     2  bad usage
//   3  another enter or return is running (transitions/transition_worker.hpp)
//   4  stopped following (Ctrl-C, SIGHUP): the transition goes on
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "base/command_line.hpp"
#include "base/duration.hpp"
#include "base/log.hpp"
#include "base/text.hpp"
#include "kernel/block_device.hpp"
#include "base/files.hpp"
#include "system/emergency.hpp"
#include "system/holders.hpp"
#include "system/persist.hpp"
#include "system/journal_import.hpp"
#include "system/sshd_watch.hpp"
#include "system/time_limit.hpp"
#include "system/storage.hpp"
#include "transitions/init_stub.hpp"
#include "base/json.hpp"
#include "transitions/plan.hpp"
#include "transitions/transition.hpp"
#include "transitions/transition_worker.hpp"
#include "system/transition_record.hpp"
#include "base/version.hpp"

using namespace offroot;

namespace {

// Plain write(2) instead of iostreams: the binary lives in RAM for the whole
// uptime, and iostreams would pull in the C++ locale machinery.
void write_out(int fd, const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) return;
        done += static_cast<size_t>(n);
    }
}
void out(const std::string& text) { write_out(STDOUT_FILENO, text); }
void err(const std::string& text) { write_out(STDERR_FILENO, text); }

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;

const char* const kUsage =
    "usage: offroot [--json] COMMAND [OPTIONS]\n"
    "\n"
    "Step the running system off its root disk and back, without a reboot.\n"
    "\n"
    "commands:\n"
    "  status                     NORMAL, DETACHED or in transition; PID 1, the emergency dropbear, RAM kept\n"
    "  check [--min-free MIB] [--force-network]\n"
    "                             what holds the root filesystem; exit 0 = go, 1 = no-go\n"
    "  enter [--dry-run] [--min-free MIB] [--force-network] [--timeout DURATION]\n"
    "                             stop services, move PID 1 to RAM, free the disk; with --timeout,\n"
    "                             return on its own unless extended or confirmed within DURATION\n"
    "  return [--root DEVICE] [--fsck] [--dry-run] [--sshd-timeout DURATION]\n"
    "                             mount the root (or DEVICE) and hand PID 1 back to the real init;\n"
    "                             status reports sshd not listening on port 22 after DURATION (5m)\n"
    "  extend DURATION            (DETACHED) the automatic return starts DURATION from now\n"
    "  confirm                    no automatic return: stay DETACHED until offroot return\n"
    "  recover                    finish or undo an enter or return whose offroot was killed half-way\n"
    "                             (offroot status names it)\n"
    "  persist [--dry-run] [--boot-disk DISK]\n"
    "                             after return --root DEVICE: make the move last (fstab by UUID, the\n"
    "                             initramfs, grub.cfg, grub-install when /boot moved)\n"
    "  import-log                 after return: what the cycle logged, into the journal or syslog, once\n"
    "  arm                        the emergency environment now, without a reboot (a tmpfs of its own)\n"
    "  disarm                     stop what offroot arm started\n"
    "\n"
    "options:\n"
    "  --force-network  go ahead although the ssh session arrives over a VPN interface\n"
    "               (WireGuard, tun/tap) that stopping the services takes down\n"
    "  DURATION     with a unit: 90s, 30m, 2h, 1h30m (at least 1m)\n"
    "  --json       machine-readable output\n"
    "  -h, --help   this text\n"
    "  --version    offroot's version\n";

int fail(const Error& e) {
    err(std::string("offroot: ") + e.message() + "\n");
    return kExitRefused;
}

int usage_error(const std::string& what) {
    err(std::string("offroot: ") + what + "\n" + kUsage);
    return kExitUsage;
}

std::string mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return buf;
}

// The real root as persist and status see it: its files under `prefix`,
// its "/" at `mount_point` of `mountinfo`. OFFROOT_PERSIST_ROOT is the
// namespace test's root, a mount of its own.
struct RootTarget {
    std::string prefix;
    std::string mountinfo;
    std::string mount_point;
};
RootTarget root_target(const SystemStatus& s) {
    if (const char* t = std::getenv("OFFROOT_PERSIST_ROOT"); t != nullptr && *t != '\0')
        return {t, "/proc/self/mountinfo", t};
    const RealRootView view = real_root_view(s);
    return {view.prefix, view.mountinfo, "/"};
}

// NORMAL (or no environment at all): does the next boot take the running
// root? The device as return was given it when it recorded one.
std::optional<BootDrift> boot_drift_of(const SystemStatus& s) {
    if (s.state != SystemState::normal && s.state != SystemState::no_emergency_environment) return std::nullopt;
    const RootTarget target = root_target(s);
    auto device = device_of_mount(target.mountinfo, target.mount_point);
    if (!device) return std::nullopt;
    if (s.emergency)
        if (auto text = read_file(in_rootfs(*s.emergency, kReturnRecord)); text)
            if (auto r = parse_return_record(*text); r) {
                auto a = stat_path(r->root_device), b = stat_path(*device);
                if (a && b && a->st_rdev == b->st_rdev) device = r->root_device;
            }
    auto drift = read_boot_drift(target.prefix, *device);
    if (!drift) return std::nullopt;
    return *drift;
}

int cmd_status(bool json) {
    auto s = read_system_status();
    if (!s) return fail(s.error());
    const auto drift = boot_drift_of(*s);
    // LVM, dm-crypt, md: assembled, and free once DETACHED.
    auto storage = read_storage_state();
    // The transition that runs, or the one a crash left half-done. Read
    // from wherever we run: the record lives in the emergency environment.
    std::optional<TransitionState> transition;
    if (s->emergency)
        if (auto t = read_transition_state(s->emergency->we_run_in_rootfs ? "" : s->emergency->rootfs_path); t)
            transition = std::move(*t);
    // The automatic return and sshd's return (system/time_limit.hpp).
    TimeLimitReport limits;
    if (s->emergency)
        limits = read_time_limits(s->emergency->we_run_in_rootfs ? "" : s->emergency->rootfs_path,
                                  s->state == SystemState::normal);
    if (json) {
        JsonWriter j;
        j.begin_object().key("state").value(to_string(s->state)).key("explanation").value(s->explanation);
        j.key("pid1").begin_object().key("exe").value(s->pid1_exe).key("is_offroot_init").value(s->pid1_is_stub).end_object();
        j.key("emergency_dropbear_pid");
        if (s->emergency && s->emergency->dropbear) j.value(static_cast<int64_t>(*s->emergency->dropbear)); else j.null();
        j.key("rootfs_bytes");
        if (s->rootfs_bytes) j.value(*s->rootfs_bytes); else j.null();
        j.key("running_in_rootfs").value(s->emergency && s->emergency->we_run_in_rootfs);
        j.key("transition");
        if (transition && transition->record) {
            const TransitionRecord& r = *transition->record;
            j.begin_object().key("name").value(r.transition).key("pid").value(static_cast<int64_t>(r.pid))
                .key("step").value(r.step).key("started").value(r.started)
                .key("running").value(transition->running).key("interrupted").value(transition->interrupted());
            j.key("recover");
            if (transition->interrupted()) j.value(kRecoverCommand); else j.null();
            j.end_object();
        } else {
            j.null();
        }
        if (s->emergency) {
            add_time_limits_json(j, limits);
        } else {
            j.key("automatic_return").null().key("sshd_return").null();
        }
        j.key("root_switch");
        if (s->emergency) j.value(to_string(s->emergency->root_switch)); else j.null();
        j.key("stray_stub_binds").begin_array();
        for (const auto& b : s->stray_stub_binds) j.value(b);
        j.end_array();
        j.key("next_boot");
        if (drift)
            j.begin_object().key("goes_back_to").value(drift->old).key("source").value(drift->source)
                .key("warning").value(drift->message()).end_object();
        else
            j.null();
        j.key("storage").begin_array();
        if (storage)
            for (const auto& d : *storage)
                j.begin_object().key("name").value(d.device.name).key("kind").value(d.device.kind)
                    .key("free").value(d.free()).key("used_by").value(d.used_by).end_object();
        j.end_array();
        j.end_object();
        out(j.str() + "\n");
        return kExitOk;
    }
    out(std::string("offroot status: ") + to_string(s->state) + "\n");
    out(std::string("  ") + s->explanation + "\n");
    if (drift) out("WARNING: " + drift->message() + "\n");
    if (transition && transition->running)
        out("transition running: " + (transition->record ? describe(*transition->record) : std::string("(starting)")) + "\n");
    if (transition && transition->interrupted())
        out("transition INTERRUPTED: " + describe(*transition->record) + "; it never finished (its worker died).\n"
            "  To finish or undo it, run: " + std::string(kRecoverCommand) + "\n");
    if (transition && !transition->record_error.empty())
        out("transition record unreadable: " + transition->record_error + "\n");
    for (const auto& b : s->stray_stub_binds)
        out("stray stub bind: offroot-init is bound over " + b + " (an interrupted enter left it): the next boot or "
            "re-exec of the init would run offroot-init; " + std::string(kRecoverCommand) +
            " in the emergency session removes it (or umount -l " + b + " in the real root)\n");
    out(format_time_limits_human(limits));
    out(std::string("PID 1: ") + (s->pid1_exe.empty() ? "?" : s->pid1_exe) + (s->pid1_is_stub ? " (offroot-init)" : "") + "\n");
    if (s->emergency) {
        out(std::string("emergency dropbear: ") + (s->emergency->dropbear ? "pid " + std::to_string(*s->emergency->dropbear) : std::string("not running")) + "\n");
        out("processes in rootfs: " + std::to_string(s->emergency->processes.size()) + "\n");
        out("root switch: " + s->emergency->switcher().description() + "\n");
    }
    if (s->rootfs_bytes) out(std::string("RAM kept by rootfs: ") + mib(*s->rootfs_bytes) + "\n");
    if (storage && !storage->empty()) out("storage stack:\n" + format_storage_human(*storage));
    // The log in RAM: what the last enter or return did, even when the
    // session that ran it is gone.
    if (s->emergency) {
        auto log = read_file(in_rootfs(*s->emergency, kRamLog));
        if (log && !log->empty()) {
            std::vector<std::string> lines;
            size_t start = 0;
            while (start < log->size()) {
                size_t end = log->find('\n', start);
                if (end == std::string::npos) end = log->size();
                lines.push_back(log->substr(start, end - start));
                start = end + 1;
            }
            out("last log lines (" + std::string(kRamLog) + "):\n");
            for (size_t i = lines.size() > 8 ? lines.size() - 8 : 0; i < lines.size(); ++i) out("  " + lines[i] + "\n");
        }
    }
    return kExitOk;
}

// enter and return run in a worker out of reach of this session; this
// process follows it (transitions/transition_worker.hpp).
int run_transition(const WorkerSpec& spec, const std::function<int()>& work) {
    auto exit = run_in_worker(spec, work);
    if (!exit) return fail(exit.error());
    if (!exit->message.empty()) err("offroot: " + exit->message + "\n");
    return exit->code;
}

// A second enter or return refuses before anything, even the preflight.
std::optional<int> refuse_if_busy(const std::string& transition, const std::string& prefix = "") {
    auto refusal = refusal_if_running(transition, prefix);
    if (!refusal) return fail(refusal.error());
    if (refusal->empty()) return std::nullopt;
    err("offroot: " + *refusal + "\n");
    return kExitBusy;
}

int cmd_check(bool json, uint64_t min_free_mib, bool force_network) {
    CheckOptions options;
    options.min_free_kib = min_free_mib * 1024;
    options.force_session_interface = force_network;
    auto report = run_check(options);
    if (!report) return fail(report.error());
    out((json ? format_check_json(*report) : format_check_human(*report)));
    return report->go() ? kExitOk : kExitRefused;
}

// `time_limit`: --timeout as typed ("30m"), empty for none; checked by
// main. Passed on as typed to the enter that continues in rootfs.
int cmd_enter(bool json, bool dry_run, uint64_t min_free_mib, bool force_network, const std::string& time_limit,
              int64_t time_limit_seconds) {
    if (!dry_run)
        if (auto busy = refuse_if_busy("enter")) return *busy;
    CheckOptions check_options;
    check_options.min_free_kib = min_free_mib * 1024;
    check_options.force_session_interface = force_network;
    auto report = run_check(check_options);
    if (!report) return fail(report.error());
    const InitInfo* init = &report->init;
    // The table enter itself walks (plan.hpp).
    const EnterInputs in = enter_inputs(*report);
    auto steps = plan_enter(in);

    if (dry_run) {
        if (json) {
            out(format_plan_json("enter", steps));
        } else {
            out(format_plan_human(std::string("offroot enter --dry-run: ") +
                                      (report->go() ? "the plan" : "REFUSED, the plan would be") + " (init: " +
                                      to_string(init->kind) + ")",
                                  steps));
            for (const auto& b : report->blockers) out(std::string("BLOCKER: ") + b + "\n");
        }
        return report->go() ? kExitOk : kExitRefused;
    }
    if (!report->go()) {
        std::string reasons;
        for (const auto& b : report->blockers) reasons += "\n  - " + b;
        return fail(plain_error("refusing to enter, nothing was changed:" + reasons));
    }
    if (!in.from_rootfs) {
        // The enter started inside rootfs has no terminal to refuse on.
        const std::string& rootfs = report->system.emergency->rootfs_path;
        if (auto busy = refuse_if_busy("enter", rootfs)) return *busy;
        auto interrupted = refusal_if_interrupted("enter", rootfs);
        if (!interrupted) return fail(interrupted.error());
        if (!interrupted->empty()) return fail(plain_error(*interrupted));
        // Its steps follow here until stop-services closes this session.
        auto exit = continue_enter_in_rootfs(report->system.emergency->rootfs_path, force_network, time_limit,
                                             [](pid_t pid) {
                                                 out("offroot enter continues inside the emergency environment (pid " +
                                                     std::to_string(pid) +
                                                     "); its steps follow until this session is closed.\n"
                                                     "Reconnect with: ssh -p 1022 root@<this host>, then: offroot "
                                                     "status\n");
                                             });
        if (!exit) return fail(exit.error());
        if (!exit->message.empty()) err("offroot: " + exit->message + "\n");
        return exit->code;
    }
    EnterOptions options;
    options.min_free_kib = min_free_mib * 1024;
    options.force_session_interface = force_network;
    options.time_limit_seconds = time_limit_seconds;
    WorkerSpec spec{"enter", {"--min-free", std::to_string(min_free_mib)}, kRamLog};
    if (force_network) spec.arguments.push_back("--force-network");
    if (!time_limit.empty()) spec.arguments.insert(spec.arguments.end(), {"--timeout", time_limit});
    return run_transition(spec, [options]() {
        if (auto s = enter_detached(options); !s) return fail(s.error());
        return kExitOk;
    });
}

// PID 1's own return, once the time limit ran out (init_stub.cpp): the
// same worker as the admin's, which looks at the limit again under the
// lock; when no worker ran (refused), the refusal is what status shows.
int cmd_automatic_return() {
    WorkerSpec spec{"return", {}, kRamLog};
    auto exit = run_in_worker(spec, []() {
        if (auto s = automatic_return(ReturnOptions{}); !s) return fail(s.error());
        return kExitOk;
    });
    if (!exit) {
        note_automatic_return_refused(exit.error().message());
        return fail(exit.error());
    }
    if (!exit->message.empty()) {
        if (exit->code == kExitBusy || exit->code == kExitRefused) note_automatic_return_refused(exit->message);
        err("offroot: " + exit->message + "\n");
    }
    return exit->code;
}

int cmd_return(bool json, const std::string& root_device, bool fsck, bool dry_run, int64_t sshd_wait_seconds) {
    if (!dry_run) {
        if (auto busy = refuse_if_busy("return")) return *busy;
        ReturnOptions options;
        options.root_device = root_device;
        options.fsck = fsck;
        options.sshd_wait_seconds = sshd_wait_seconds;
        WorkerSpec spec{"return", {}, kRamLog};
        if (!root_device.empty()) spec.arguments = {"--root", root_device};
        if (fsck) spec.arguments.push_back("--fsck");
        return run_transition(spec, [options]() {
            if (auto s = return_to_root(options); !s) return fail(s.error());
            return kExitOk;
        });
    }
    auto status = read_system_status();
    if (!status) return fail(status.error());
    std::string device = root_device;
    if (device.empty())
        if (auto record = read_detach_record(); record) device = record->root_device;
    if (device.empty())
        return fail(plain_error("no root device given and none recorded by offroot enter",
                                "give it: offroot return --root /dev/vda1"));
    if (auto s = check_block_device(device); !s) return fail(s.error());
    auto fs = probe_filesystem(device);
    if (!fs) return fail(fs.error());
    if (auto s = check_device_free(device); !s) return fail(s.error().context("the root device is busy"));

    auto steps = plan_return(return_inputs(*status, device, fsck));
    if (json) {
        out(format_plan_json("return", steps));
    } else {
        out(format_plan_human("offroot return --dry-run: " + device + " (" + *fs + "), state " + to_string(status->state),
                              steps));
    }
    if (status->state != SystemState::detached)
        return fail(plain_error("the system is " + to_string(status->state) + ", not DETACHED: nothing to return from"));
    return kExitOk;
}

// After a return onto another device, in the running root: the plan
// refuses before anything changes; each step is checked as it runs.
int cmd_persist(bool json, bool dry_run, const std::string& boot_disk) {
    auto s = read_system_status();
    if (!s) return fail(s.error());
    if (s->state != SystemState::normal && s->state != SystemState::no_emergency_environment)
        return fail(plain_error("the system is " + to_string(s->state) + ": offroot persist runs once the root is back",
                                "offroot return --root DEVICE first"));
    if (!dry_run && ::geteuid() != 0) return fail(plain_error("offroot persist changes /etc/fstab and the boot: run it as root"));
    const RootTarget target = root_target(*s);
    auto in = read_persist_inputs(target.prefix, target.mountinfo, target.mount_point, boot_disk);
    if (!in) return fail(in.error());
    auto steps = plan_persist(*in);
    if (!steps) return fail(steps.error());
    std::vector<Step> shown;
    for (const auto& p : *steps) shown.push_back(p.step);
    if (dry_run) {
        out(json ? format_plan_json("persist", shown)
                 : format_plan_human("offroot persist --dry-run: the root " + in->root_device + " (UUID=" +
                                         in->root_id.uuid + "), nothing is changed", shown));
        return kExitOk;
    }
    // Each step as it runs on the terminal, in the kernel's log and in the
    // log in RAM, whose last lines status shows: there return's warning
    // that the next reboot goes back is followed by what persist did.
    const std::string ram_log = s->emergency ? in_rootfs(*s->emergency, kRamLog) : "";
    configure_log(LogSinks{.to_stderr = true, .to_kmsg = true, .ram_log = ram_log, .tag = "offroot"});
    if (!json) out(format_plan_human("offroot persist: the root " + in->root_device + " (UUID=" + in->root_id.uuid + ")", shown));
    if (auto r = run_persist(*steps, target.prefix); !r) return fail(r.error());
    if (json) {
        JsonWriter j;
        j.begin_object().key("command").value("persist").key("root_device").value(in->root_device)
            .key("uuid").value(in->root_id.uuid).key("steps").begin_array();
        for (const auto& step : shown) j.begin_object().key("name").value(step.name).key("action").value(step.action).end_object();
        j.end_array().end_object();
        out(j.str() + "\n");
    } else {
        out("offroot persist: done; the next boot takes " + in->root_device + "\n");
    }
    configure_log(LogSinks{.to_stderr = false, .to_kmsg = true, .ram_log = ram_log, .tag = "offroot"});
    log_info("persist: done; the next boot takes " + in->root_device);
    return kExitOk;
}

// An enter or return whose worker died: finished or undone by a worker of
// its own, which takes over the record (a recover that dies is recovered
// by running recover again: its record keeps the original's name and step).
int cmd_recover() {
    auto status = read_system_status();
    if (!status) return fail(status.error());
    if (status->emergency && !status->emergency->we_run_in_rootfs)
        return fail(plain_error("offroot recover runs in the emergency environment",
                                "ssh -p 1022 root@this-host, then offroot recover"));
    if (auto busy = refuse_if_busy("recover")) return *busy;
    auto state = read_transition_state();
    if (!state) return fail(state.error());
    if (!state->record_error.empty())
        return fail(plain_error(state->record_error, "read " + std::string(kRamLog) + ", then remove " +
                                                         kTransitionRecord + " once the system is as it should be"));
    if (!state->record) {
        // Nothing to finish, but what an enter interrupted before this
        // recover existed may have left: the stub bound over the init.
        if (status->state == SystemState::normal && !status->stray_stub_binds.empty()) {
            configure_log(LogSinks{.to_stderr = true, .to_kmsg = true, .ram_log = kRamLog, .tag = "offroot"});
            if (auto s = remove_stub_binds(real_root_view(*status), std::string(kRootfsLibDir) + "/" + kInitStubName,
                                           "recover");
                !s)
                return fail(s.error());
            return kExitOk;
        }
        out("offroot recover: no interrupted transition, nothing to do\n");
        return kExitOk;
    }
    TransitionRecord interrupted = *state->record;
    if (interrupted.transition == "recover" && interrupted.arguments.size() >= 2) {
        const std::vector<std::string> args = interrupted.arguments;
        interrupted.transition = args[0];
        interrupted.step = args[1];
        interrupted.arguments.assign(args.begin() + 2, args.end());
    }
    WorkerSpec spec{"recover", {interrupted.transition, interrupted.step}, kRamLog, true};
    spec.arguments.insert(spec.arguments.end(), interrupted.arguments.begin(), interrupted.arguments.end());
    return run_transition(spec, [interrupted]() {
        if (auto s = recover_transition(interrupted); !s) return fail(s.error());
        return kExitOk;
    });
}

// extend and confirm: the admin's hold on the automatic return, logged to
// the log in RAM and the kernel's as the transitions are.
int cmd_time_limit(const std::string& command, int64_t seconds) {
    configure_log(LogSinks{.to_stderr = false, .to_kmsg = true, .ram_log = kRamLog, .tag = "offroot"});
    auto said = command == "extend" ? extend_time_limit(seconds) : confirm_time_limit();
    if (!said) {
        err("offroot: " + said.error().message() + "\n");
        return said.error().err == EWOULDBLOCK ? kExitBusy : kExitRefused;
    }
    out("offroot " + command + ": " + *said + "\n");
    return kExitOk;
}

// After return: what the cycle logged while no log daemon ran, into the
// journal or syslog (system/journal_import.hpp). Run by
// offroot-import-log.service at every boot of systemd, by return itself on
// sysvinit; the record makes a second run import nothing. Best effort: a
// warning and exit 1 when it cannot, which the unit ignores.
int cmd_import_log() {
    ImportOptions options;
    options.wait_seconds = 5;
    // The tests' stand-ins for the kernel's buffer and the daemons' sockets.
    for (auto [name, field] : {std::pair{"OFFROOT_KMSG", &ImportOptions::kmsg_path},
                               std::pair{"OFFROOT_JOURNAL_SOCKET", &ImportOptions::journal_socket},
                               std::pair{"OFFROOT_SYSLOG_SOCKET", &ImportOptions::syslog_socket},
                               std::pair{"OFFROOT_CYCLE_RECORD", &ImportOptions::record_path}})
        if (const char* v = std::getenv(name); v != nullptr && *v != '\0') options.*field = v;
    if (std::getenv("OFFROOT_CYCLE_RECORD") == nullptr) {
        // The record lives in the emergency environment, which the real
        // root reaches through one of its processes.
        auto env = find_emergency_environment();
        if (!env) return fail(env.error().context("offroot import-log: warning: finding the emergency environment"));
        if (!*env) {
            out("offroot import-log: no emergency environment, nothing to import\n");
            return kExitOk;
        }
        options.record_path = in_rootfs(**env, kCycleRecord);
    }
    auto report = import_cycle_log(options);
    if (!report) return fail(report.error().context("import-log: warning: the cycle's log stays in the kernel ring buffer (dmesg)"));
    out("offroot import-log: " + report->summary + "\n");
    return kExitOk;
}

// arm and disarm are shell, shared with the generators' hooks: they copy
// the same environment the initramfs hook builds.
int cmd_arm(const std::string& command) {
    // The script and the package are on the real root; a session of the
    // environment that disarm would end has neither.
    if (auto s = read_system_status(); s && s->emergency && s->emergency->we_run_in_rootfs)
        return fail(plain_error("offroot " + command + " runs from a normal session on the real root, "
                                "not from the emergency one (it would end it)"));
    const char* share = std::getenv("OFFROOT_SHARE");
    const std::string script = std::string(share != nullptr && *share != '\0' ? share : kShareDir) + "/arm";
    std::vector<char*> argv{const_cast<char*>(script.c_str()), const_cast<char*>(command.c_str()), nullptr};
    ::execv(script.c_str(), argv.data());
    return fail(sys_error("execv(" + quoted(script) + ")").context("offroot " + command));
}

// offroot is also offroot-init, the PID 1 stub: run by that name, or run
// as PID 1 under another (an init's re-exec keeps its own argv[0], e.g.
// /lib/systemd/systemd, since the stub is bound over the init's binary).
// Allocates nothing: PID 1 must not die of a failed allocation here.
bool started_as_init_stub(const char* argv0) noexcept {
    const char* slash = argv0 == nullptr ? nullptr : std::strrchr(argv0, '/');
    const char* name = argv0 == nullptr ? "" : slash != nullptr ? slash + 1 : argv0;
    return std::strcmp(name, kInitStubName) == 0 || (::getpid() == 1 && std::strcmp(name, "offroot") != 0);
}

int run_as_init_stub() {
    if (::getpid() != 1) {
        err("offroot-init: must run as PID 1; `offroot enter` starts it through the init system's re-exec\n");
        return kExitUsage;
    }
    InitStubOptions options;
    try {
        if (const char* p = std::getenv("OFFROOT_CMDLINE")) options.cmdline_path = p;
    } catch (...) {  // no memory for the path: the default /proc/cmdline
    }
    run_init_stub(options);
}

// The options each command knows, beside the global ones.
std::vector<OptionSpec> options_of(const std::string& command) {
    std::vector<OptionSpec> known{{"help", 'h', false}, {"version", 0, false}, {"json", 0, false}};
    if (command == "check") {
        known.push_back({"min-free", 0, true});
        known.push_back({"force-network", 0, false});
    } else if (command == "enter") {
        known.push_back({"dry-run", 'n', false});
        known.push_back({"min-free", 0, true});
        known.push_back({"force-network", 0, false});
        known.push_back({"timeout", 0, true});
    } else if (command == "persist") {
        known.push_back({"dry-run", 'n', false});
        known.push_back({"boot-disk", 0, true});
    } else if (command == "return") {
        known.push_back({"root", 0, true});
        known.push_back({"fsck", 0, false});
        known.push_back({"dry-run", 'n', false});
        known.push_back({"sshd-timeout", 0, true});
        // Not for the admin: PID 1 starts the automatic return with it.
        known.push_back({"time-limit-ran-out", 0, false});
    }
    return known;
}

bool command_is_known(const std::string& c) {
    return c == "status" || c == "check" || c == "enter" || c == "return" || c == "recover" || c == "arm" || c == "disarm" ||
           c == "watch-sshd" || c == "extend" || c == "confirm" || c == "import-log" || c == "persist";
}

}  // namespace

int main(int argc, char** argv) {
    if (started_as_init_stub(argv[0])) return run_as_init_stub();

    const CommandWords words = split_command(std::vector<std::string>(argv + 1, argv + argc));
    const std::string& command = words.command;
    auto opts = parse_options(words.rest, options_of(command));
    if (opts && opts->given("version")) {
        out(std::string("offroot ") + kVersion + "\n");
        return kExitOk;
    }
    if (command.empty()) {
        if (opts && opts->given("help")) {
            out(kUsage);
            return kExitOk;
        }
        return usage_error("no command given");
    }
    if (!command_is_known(command)) return usage_error("unknown command " + quoted(command));
    if (!opts) return usage_error(command + ": " + opts.error().message());
    // No positional words after the command: "offroot return /dev/vdb"
    // (--root forgotten) must not return onto the recorded root. extend
    // takes exactly one, its DURATION.
    const size_t positional = command == "extend" ? 1 : 0;
    if (opts->positional.size() > positional)
        return usage_error(command + ": unexpected argument " + quoted(opts->positional[positional]));
    if (opts->positional.size() < positional && !opts->given("help"))
        return usage_error(command + ": give the DURATION from now, e.g. offroot extend 30m");
    if (opts->given("help")) {
        out(kUsage);
        return kExitOk;
    }
    const bool json = opts->given("json");
    uint64_t min_free_mib = 64;
    if (const std::string v = opts->value_or("min-free", "64"); !parse_number(v, min_free_mib))
        return usage_error(command + ": the argument ('" + v + "') for option '--min-free' is invalid");

    // Durations are checked before anything runs: a typo must not enter
    // without the limit the admin meant to have.
    int64_t time_limit = 0;
    if (command == "enter" && opts->given("timeout")) {
        auto seconds = parse_time_limit("--timeout", opts->value_or("timeout", ""));
        if (!seconds) return usage_error("enter: " + seconds.error().message());
        time_limit = *seconds;
    }
    if (command == "extend") {
        auto seconds = parse_time_limit("extend", opts->positional.front());
        if (!seconds) return usage_error(seconds.error().message());
        time_limit = *seconds;
    }
    int64_t sshd_wait = kDefaultSshdTimeLimit;
    if (command == "return" && opts->given("sshd-timeout")) {
        auto seconds = parse_duration(opts->value_or("sshd-timeout", ""));
        if (!seconds) return usage_error("return: " + seconds.error().context("--sshd-timeout").message());
        sshd_wait = *seconds;
    }

    if (command == "status") return cmd_status(json);
    if (command == "extend" || command == "confirm") return cmd_time_limit(command, time_limit);
    if (command == "recover") return cmd_recover();
    if (command == "import-log") return cmd_import_log();
    if (command == "persist") return cmd_persist(json, opts->given("dry-run"), opts->value_or("boot-disk", ""));
    if (command == "arm" || command == "disarm") return cmd_arm(command);
    if (command == "watch-sshd") {
        // Started by start-dropbear and offroot arm; the watcher itself runs
        // under its '@' name.
        if (argv[0] != nullptr && argv[0][0] == '@') run_sshd_watch();
        if (auto s = start_sshd_watch(); !s) return fail(s.error());
        return kExitOk;
    }
    if (command == "check") return cmd_check(json, min_free_mib, opts->given("force-network"));
    if (command == "enter")
        return cmd_enter(json, opts->given("dry-run"), min_free_mib, opts->given("force-network"),
                         opts->value_or("timeout", ""), time_limit);
    if (opts->given("time-limit-ran-out")) return cmd_automatic_return();
    return cmd_return(json, opts->value_or("root", ""), opts->given("fsck"), opts->given("dry-run"), sshd_wait);
}
