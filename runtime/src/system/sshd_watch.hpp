// The emergency dropbear, kept alive: `offroot watch-sshd` runs beside it
// in the emergency environment (started with it at boot and by offroot
// arm, as @offroot-watch: systemd spares it like dropbear, enter never
// kills it), and starts it again when it is gone, in NORMAL and in
// DETACHED alike: it needs nothing from the disk. It shields the listener
// from the OOM killer, and ends itself when its environment is gone (a
// boot that fell back to the stock switch deleted rootfs).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace offroot {

// In the environment: the dropbear options start-dropbear and offroot arm
// used, one line ("-s -G root -j -k -p 1022 -P /run/offroot/dropbear.pid -r ...").
inline constexpr const char* kDropbearOptionsRecord = "/etc/offroot/dropbear-options";

std::vector<std::string> parse_dropbear_options(const std::string& record_text);

// Its pid, for run-init's fall-back to the stock switch to stop it first.
inline constexpr const char* kSshdWatchPidfile = "/run/offroot/watch.pid";
inline constexpr const char* kSshdWatchName = "@offroot-watch";

// Starts the watcher in the background (a new session, stdio on
// /dev/null, argv[0] @offroot-watch) and returns.
Status start_sshd_watch();
// The watcher itself; never returns.
[[noreturn]] void run_sshd_watch();

}  // namespace offroot
