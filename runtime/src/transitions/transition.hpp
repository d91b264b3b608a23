// The two state transitions, each in one place:
//   enter:  NORMAL   -> DETACHED   (transition_enter.cpp)
//   return: DETACHED -> NORMAL     (transition_return.cpp)
// Both run inside rootfs (the 1022 session), in a worker detached from the
// admin's session (transition_worker.hpp) whose stderr is
// /var/lib/offroot/log; they log every step there and to /dev/kmsg, record
// it for `offroot status` (system/transition_record.hpp), and undo what
// they did when a step fails.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.hpp"
#include "transitions/transition_worker.hpp"

namespace offroot {

inline constexpr const char* kStateDir = "/var/lib/offroot";
inline constexpr const char* kRamLog = "/var/lib/offroot/log";
inline constexpr const char* kDetachRecord = "/var/lib/offroot/detached";
inline constexpr const char* kNetworkRecord = "/var/lib/offroot/network";
// The DHCP clients hold-dhcp-leases killed, with their command lines, for
// its undo and for recover to start again (system/dhcp_clients.hpp).
inline constexpr const char* kDhcpClientsRecord = "/var/lib/offroot/dhcp-clients";
// The device-mapper devices enter kept from their deferred removal, for
// return to mark again.
inline constexpr const char* kDmHeldRecord = "/var/lib/offroot/dm-held";

// What enter leaves for return: the root it took away and the init it
// replaced.
struct DetachRecord {
    std::string root_device;
    std::string root_fs_type;
    std::string init_kind;
    std::string init_binary;
    // What the root was mounted with, for return to mount it the same way
    // (the init remounts it with fstab's options afterwards).
    std::string root_mount_data;
};

// The data for mount(2) that gives back the root as it was: the kernel
// command line's rootflags= (what the initramfs used), and for a btrfs root
// on a subvolume (the mount's root within its filesystem is not "/") a
// subvol= when rootflags= names none.
std::string root_mount_data(const std::string& rootflags, const std::string& fs_type, const std::string& mount_root);
std::string serialize(const DetachRecord& record);
Result<DetachRecord> parse_detach_record(const std::string& text);
Result<DetachRecord> read_detach_record();

struct EnterOptions {
    uint64_t min_free_kib = 64 * 1024;
    // --timeout: the automatic return's time limit, in seconds; 0 none
    // (system/time_limit.hpp).
    int64_t time_limit_seconds = 0;
    int kill_grace_seconds = 10;
    bool force_session_interface = false;  // CheckOptions'
};

struct ReturnOptions {
    std::string root_device;  // empty: the one enter took away
    bool fsck = false;
    // --sshd-timeout: how long sshd has to listen on port 22 again once
    // the real init is PID 1; recorded for `offroot status`.
    int64_t sshd_wait_seconds = 300;
};

// What return --fsck makes of the checker's exit status (-1: killed by a
// signal or the time limit): 0 and 1 go on, anything else stops the return.
Status fsck_verdict(const std::string& command, int exit_status, const std::string& device);

Status enter_detached(const EnterOptions& options);
Status return_to_root(const ReturnOptions& options);
// Return's last step for the devices enter kept from their deferred
// removal (kDmHeldRecord); recover's too.
void remark_deferred_removals();
// PID 1 runs the stub (kRootfsLibDir/kInitStubName, the same inode).
bool pid1_is_stub();
// Waits up to `seconds` for PID 1 to run the stub (`stub` true) or to have
// left it (false); says whether it came to that. Re-executing takes PID 1
// from a fraction of a second to several under TCG.
bool wait_pid1_is_stub(bool stub, int seconds);

// Waits, up to 10 s, until PID 1 maps no file of the filesystem at `path`:
// the stub, started from the disk, has run itself again from the
// environment's copy (init_stub.cpp) and listens for SIGUSR1.
Status wait_pid1_off_device(const std::string& path);

// The automatic return (transitions/time_limit.cpp): what `offroot return
// --time-limit-ran-out`, started by PID 1, runs in its worker: under the
// transition lock the limit is looked at again, its start recorded, then
// return_to_root; a failure is recorded for `offroot status`, and the host
// stays DETACHED as after any failed return.
Status automatic_return(const ReturnOptions& options);
// The follower's part: the worker never ran (another transition held the
// lock, or an interrupted one waits for recover): recorded as the failure.
void note_automatic_return_refused(const std::string& why);
// offroot extend: the automatic return starts `seconds` from now (not
// added to what is left), set anew after a failed one. offroot confirm:
// no automatic return. Both under the transition lock, from the emergency
// environment; they return the line to print. A running transition
// refuses them with err == EWOULDBLOCK.
Result<std::string> extend_time_limit(int64_t seconds);
Result<std::string> confirm_time_limit();

struct TransitionRecord;
// offroot recover: the transition `interrupted` (its record, left by a
// worker that died) finished or undone; transition_recover.cpp says which
// cases are covered.
Status recover_transition(const TransitionRecord& interrupted);

// From a normal session: start `offroot enter` inside rootfs, detached from
// this session (which is about to end), call `handed_over` with its pid,
// then follow its progress in the log in RAM until it ends or this session
// is closed under us (a stop signal: kExitStoppedFollowing).
// `force_session_interface` passes --force-network on, `time_limit` (the
// admin's words, "30m"; empty: none) --timeout.
Result<WorkerExit> continue_enter_in_rootfs(const std::string& rootfs_path, bool force_session_interface,
                                            const std::string& time_limit,
                                            const std::function<void(pid_t)>& handed_over);

}  // namespace offroot
