#include "system/services.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "base/subprocess.hpp"
#include "base/text.hpp"

namespace offroot {

bool sysvinit_script_is_kept(const std::string& name) {
    // K01foo -> foo
    std::string base = name;
    if (base.size() > 3 && (base[0] == 'K' || base[0] == 'S') && std::isdigit(static_cast<unsigned char>(base[1])) &&
        std::isdigit(static_cast<unsigned char>(base[2])))
        base = base.substr(3);
    static const std::array<const char*, 12> kept = {
        "networking", "ifupdown", "ifupdown-clean", "sendsigs", "umountnfs.sh", "umountfs",
        "umountroot", "halt", "reboot", "killprocs", "single", "rc.local"};
    return std::find_if(kept.begin(), kept.end(), [&](const char* k) { return base == k; }) != kept.end();
}

std::vector<std::string> sysvinit_stop_order(const std::vector<std::string>& rc0_names) {
    std::vector<std::string> order;
    for (const auto& n : rc0_names)
        if (n.size() > 3 && n[0] == 'K' && !sysvinit_script_is_kept(n)) order.push_back(n);
    std::sort(order.begin(), order.end());
    return order;
}

namespace {

Result<std::string> run_checked(const Command& c) {
    auto r = run_command(c);
    if (!r) return r.error();
    if (!r->ok())
        return plain_error(describe(c) + " exited with status " + std::to_string(r->exit_status) + ": " + r->output);
    return "$ " + describe(c) + "\n" + r->output;
}

}  // namespace

std::vector<SystemdJob> parse_systemd_jobs(const std::string& list_jobs_output) {
    std::vector<SystemdJob> jobs;
    for (const std::string_view line : split_lines(list_jobs_output)) {
        // "JOB UNIT TYPE STATE", blank-separated (--no-legend --plain)
        const auto words = split_fields(line, " \t");
        if (words.size() < 4) continue;
        jobs.push_back({std::string(words[1]), std::string(words[2]), std::string(words[3])});
    }
    return jobs;
}

std::string describe_jobs(const std::vector<SystemdJob>& jobs) {
    std::string out;
    for (const auto& j : jobs) out += (out.empty() ? "" : ", ") + j.unit + " (" + j.type + ", " + j.state + ")";
    return out;
}

namespace {

// systemctl isolate returns once the target's own start job is done; the
// stop jobs of the same transaction are not ordered against it and run on.
// Seen on a dracut guest: a user manager and dracut-shutdown.service still
// stopping when PID 1 was re-executed, their stop logic cut off, the user
// manager SIGKILLed 10 s later by kill-leftovers. Their stop logic is what
// enter promises, so the queue must hold no stop job first. Bounded: a stop job has
// its own timeout (TimeoutStopSec, 90 s by default), after which systemd
// kills the unit itself; past `seconds` enter stops and says what is stuck.
Status wait_for_systemd_jobs(const std::string& real_root, double seconds) {
    const double start = monotonic_seconds();
    double next_report = start + 10;
    for (;;) {
        auto r = run_command(Command{{"systemctl", "list-jobs", "--no-legend", "--plain"}, real_root, 30});
        if (!r) return r.error();
        if (!r->ok())
            return plain_error("systemctl list-jobs exited with status " + std::to_string(r->exit_status) + ": " +
                               r->output);
        // Only the stops: a start job the isolate left (one of the network's
        // units waiting for a device) may wait forever, and frees nothing.
        std::vector<SystemdJob> jobs;
        for (auto& j : parse_systemd_jobs(r->output))
            if (j.type == "stop") jobs.push_back(std::move(j));
        if (jobs.empty()) return {};
        const double now = monotonic_seconds();
        if (now - start >= seconds)
            return plain_error("systemd still has " + std::to_string(jobs.size()) + " stop jobs " +
                               std::to_string(static_cast<int>(seconds)) + " s after the isolate: " +
                               describe_jobs(jobs),
                               "find why they do not stop (systemctl list-jobs, journalctl -u UNIT), then offroot "
                               "enter again");
        if (now >= next_report) {
            log_info("enter: waiting for systemd to finish stopping: " + describe_jobs(jobs));
            next_report = now + 10;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace

std::vector<std::string> active_units(const std::vector<std::string>& units, const std::string& is_active_output) {
    std::vector<std::string> out;
    const auto states = split_lines(is_active_output);
    for (size_t i = 0; i < units.size() && i < states.size(); ++i)
        // Running, also while it reloads or has not finished starting.
        if (states[i] == "active" || states[i] == "reloading" || states[i] == "activating") out.push_back(units[i]);
    return out;
}

std::string detached_target_dropin(const std::vector<std::string>& units) {
    std::string text =
        "# Written by offroot enter: the network's units that ran when it began, kept\n"
        "# running through the isolate of offroot-detached.target.\n[Unit]\n";
    for (const auto& u : units) text += "Wants=" + u + "\n";
    return text;
}

namespace {

// Only the network's units that run now are wanted (services.hpp).
Result<std::string> keep_running_network_units(const std::string& real_root) {
    std::vector<std::string> units(std::begin(kNetworkUnits), std::end(kNetworkUnits));
    std::vector<std::string> argv = {"systemctl", "is-active"};
    argv.insert(argv.end(), units.begin(), units.end());
    // Its exit status is not 0 as soon as one of them does not run.
    auto states = run_command(Command{argv, real_root, 30});
    if (!states) return states.error();
    const auto kept = active_units(units, states->output);
    if (auto s = make_dir(path_join(real_root, kDetachedTargetDropinDir), 0755); !s) return s.error();
    if (auto s = write_file(path_join(real_root, kDetachedTargetDropin), detached_target_dropin(kept),
                            O_CREAT | O_TRUNC, 0644);
        !s)
        return s.error();
    auto reload = run_checked(Command{{"systemctl", "daemon-reload"}, real_root, 120});
    if (!reload) return reload;
    log_info("enter: the network's units kept running:" + (kept.empty() ? std::string(" none") : " " + join(kept, " ")));
    return *reload;
}

}  // namespace

Result<std::string> stop_services(const InitInfo& init, const std::string& real_root) {
    switch (init.kind) {
        case InitSystem::systemd: {
            auto kept = keep_running_network_units(real_root);
            if (!kept) return kept;
            auto log = run_checked(Command{{"systemctl", "isolate", kDetachedTarget}, real_root, 300});
            if (!log) return log;
            if (auto s = wait_for_systemd_jobs(real_root, 300); !s) return s.error();
            return *kept + *log;
        }
        case InitSystem::sysvinit: {
            auto names = list_dir(path_join(real_root, "etc/rc0.d"));
            if (!names) return names.error();
            std::string log;
            for (const auto& script : sysvinit_stop_order(*names)) {
                Command c{{"/etc/rc0.d/" + script, "stop"}, real_root, 120};
                auto r = run_command(c);
                if (!r) return r.error();
                log += "$ " + describe(c) + " -> " + std::to_string(r->exit_status) + "\n" + r->output;
            }
            return log;
        }
        case InitSystem::unknown: break;
    }
    return plain_error("stopping services: unknown init system " + quoted(init.binary));
}

Result<std::string> start_services(const InitInfo& init, const std::string& real_root) {
    switch (init.kind) {
        case InitSystem::systemd: {
            // The drop-in goes with the isolate it was for; systemd reads
            // its absence at its next reload.
            const std::string dropin = path_join(real_root, kDetachedTargetDropin);
            if (::unlink(dropin.c_str()) != 0 && errno != ENOENT)
                log_warning("removing " + quoted(dropin) + ": " + std::string(std::strerror(errno)));
            return run_checked(Command{{"systemctl", "isolate", "default.target"}, real_root, 300});
        }
        case InitSystem::sysvinit: {
            auto level = run_command(Command{{"runlevel"}, real_root, 10});
            std::string runlevel = "2";
            if (level && level->ok() && level->output.size() >= 3) runlevel = level->output.substr(2, 1);
            return run_checked(Command{{"/etc/init.d/rc", runlevel}, real_root, 300});
        }
        case InitSystem::unknown: break;
    }
    return plain_error("starting services: unknown init system");
}

namespace {

// sysvinit's control FIFO protocol (initreq.h): what `telinit u` sends. We
// write it ourselves: in Debian, telinit is a link to /sbin/init, which is
// the stub by now.
struct InitRequest {
    int magic;
    int cmd;
    int runlevel;
    int sleeptime;
    char data[368];
};
static_assert(sizeof(InitRequest) == 384, "initreq.h's struct init_request is 384 bytes");

Status ask_sysvinit_to_reexec(const std::string& real_root) {
    const std::string fifo = path_join(real_root, "run/initctl");
    auto fd = open_path(fifo, O_WRONLY | O_NONBLOCK);
    if (!fd) return fd.error().context("sysvinit's control FIFO");
    InitRequest request{};
    request.magic = 0x03091969;  // INIT_MAGIC
    request.cmd = 1;             // INIT_CMD_RUNLVL
    request.runlevel = 'U';      // re-execute
    ssize_t n = ::write(fd->get(), &request, sizeof request);
    if (n != static_cast<ssize_t>(sizeof request)) return sys_error("write(" + quoted(fifo) + ", re-exec request)");
    return {};
}

}  // namespace

Status request_reexec(const InitInfo& init, const std::string& real_root) {
    switch (init.kind) {
        case InitSystem::systemd: {
            // systemctl may report the connection reset by the re-exec: the
            // caller watches PID 1's binary instead of the exit status.
            // Under the pivot switch PID 1 already lives in rootfs, so
            // systemctl, run in the real root, finds itself "in a chroot" and
            // would ignore the request ("Running in chroot, ignoring command").
            auto r = run_command(Command{{"systemctl", "daemon-reexec"}, real_root, 60, {"SYSTEMD_IGNORE_CHROOT=1"}});
            if (!r) return r.error();
            return {};
        }
        case InitSystem::sysvinit: return ask_sysvinit_to_reexec(real_root);
        case InitSystem::unknown: break;
    }
    return plain_error("no way to re-execute PID 1 " + quoted(init.binary));
}

}  // namespace offroot
