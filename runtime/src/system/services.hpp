// Stopping and starting the services of the real system through its own
// init system, so that each stops with its own stop logic (a database
// flushes, a writer closes its file) — and the network stays up.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "system/init_system.hpp"

namespace offroot {

// systemd: the target `offroot enter` isolates. It wants only the network's
// units; isolating it stops every other service, socket and timer. Mounts,
// swaps and scopes are left alone by isolate (IgnoreOnIsolate).
inline constexpr const char* kDetachedTarget = "offroot-detached.target";
// The network's units it keeps, those of them that run: a Wants= of one
// that does not run would start it (a disabled networkd on an ifupdown
// host was started so, by enter). So the target ships without them, and
// enter wants the running ones in a drop-in under /run
// (kDetachedTargetDropin, relative to the root) before isolating.
inline constexpr const char* kNetworkUnits[] = {"systemd-networkd.service", "systemd-resolved.service",
                                                "networking.service", "NetworkManager.service"};
inline constexpr const char* kDetachedTargetDropinDir = "run/systemd/system/offroot-detached.target.d";
inline constexpr const char* kDetachedTargetDropin = "run/systemd/system/offroot-detached.target.d/50-network.conf";
// The units `systemctl is-active UNIT...` printed "active" for (one line
// per unit, in order).
std::vector<std::string> active_units(const std::vector<std::string>& units, const std::string& is_active_output);
// The drop-in that makes the target want `units`.
std::string detached_target_dropin(const std::vector<std::string>& units);

// sysvinit: stop scripts of /etc/rc0.d that must not run: the network and
// what would kill everything or unmount the disk under us.
bool sysvinit_script_is_kept(const std::string& script_name);

// The stop scripts to run, in order, from the names in /etc/rc0.d.
std::vector<std::string> sysvinit_stop_order(const std::vector<std::string>& rc0_names);

// systemd's job queue, as `systemctl list-jobs --no-legend --plain` prints it.
struct SystemdJob {
    std::string unit;
    std::string type;   // stop, start, ...
    std::string state;  // running, waiting
    bool operator==(const SystemdJob&) const = default;
};
std::vector<SystemdJob> parse_systemd_jobs(const std::string& list_jobs_output);
// "a.service (stop, running), b.scope (stop, waiting)"
std::string describe_jobs(const std::vector<SystemdJob>& jobs);

// Runs inside `real_root` (chroot). Returns a log of what ran. On systemd
// it returns once the job queue holds no stop job: every stop the isolate
// started has finished.
Result<std::string> stop_services(const InitInfo& init, const std::string& real_root);
// The undo: the services of the default target / running runlevel again.
Result<std::string> start_services(const InitInfo& init, const std::string& real_root);

// Asks PID 1 to re-execute itself (it then execs the stub bound over its
// binary): systemctl daemon-reexec, telinit u.
Status request_reexec(const InitInfo& init, const std::string& real_root);

}  // namespace offroot
