// The emergency dropbear, kept alive: `offroot watch-sshd` runs beside it
// in the emergency environment (started with it at boot and by offroot
// arm, as @offroot-watch: systemd spares it like dropbear, enter never
// kills it), and starts it again when it is gone, in NORMAL and in
// DETACHED alike: it needs nothing from the disk. It shields the listener
// and itself from the OOM killer, and ends itself when its environment is
// gone (a boot that fell back to the stock switch deleted rootfs). In
// DETACHED, PID 1 (the init stub) starts the watcher again should it die.
//
// Why a watcher beside dropbear and not a parent of a dropbear -F: the
// listener started in the initramfs, by offroot arm and after dracut's
// switch-root is a daemon already, and status, check and run-init find it
// by its pidfile; a poll every second or two brings it back as fast as
// anyone can reconnect, and a watcher that dies leaves dropbear running.
#pragma once

#include <sys/types.h>

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
// The watcher itself; never returns. No failure of a round (an exception,
// a failed allocation among them) ends it: it logs and goes on.
[[noreturn]] void run_sshd_watch();

// The pids in /proc/PID/task/PID/children ("12 34 "); words that are not
// pids are passed over.
std::vector<pid_t> parse_children(const std::string& text);

// Seconds between two starts of dropbear while it keeps dying: doubling
// from 1 after each start that did not last, capped at 8, so that a
// dropbear that cannot start does not fill the log, and one that was
// killed once is back within a round.
int sshd_restart_delay(int failed_starts);

// Its pidfile names a live @offroot-watch (a stranger that took over its
// pid does not count). Allocates nothing.
bool sshd_watch_running() noexcept;

// In DETACHED, for PID 1 (the init stub): the watcher is its child once
// enter has made it PID 1, and nothing else would start it again. Starts
// `offroot watch-sshd` in the sessions' bind of the environment (or "/")
// when the watcher's pidfile names no live @offroot-watch, at most every
// few seconds; does nothing where no watcher ever ran (no pidfile).
// Allocates nothing and throws nothing: PID 1 must not die of it.
void keep_sshd_watch_alive() noexcept;

}  // namespace offroot
