// How the emergency environment and the real root trade places: the root
// switches. One interface, one implementation per switch; the boot path,
// enter, return, status and check ask it instead of testing which switch
// they are on.
//
// move   Up to 6.x kernels the initramfs is the namespace's root mount: it
//        can be neither unmounted nor pivoted away from, so the real root is
//        moved on top of it and entered with chroot; PID 1 later escapes its
//        chroot to reach rootfs again (move_switch.cpp).
// pivot  Since 7.0 the kernel mounts rootfs on top of nullfs, an immutable
//        empty filesystem: rootfs is an ordinary mount and pivot_root(2)
//        works from the initramfs. pivot_root changes the root and cwd of
//        every process that had the old root, PID 1 and kernel threads
//        included, in one step (pivot_switch.cpp).
// tmpfs  The emergency environment copied into a tmpfs of its own, an
//        ordinary mount on every kernel: for hosts armed without a reboot
//        (`offroot arm`) and for generators whose switch_root deletes what
//        is left of rootfs (dracut). From there on it is the pivot switch
//        (pivot_switch.cpp).
//
// Under pivot and tmpfs the emergency sessions must not be carried along
// when PID 1 pivots, so dropbear lives in a recursive bind of the
// environment (another mount of the same files) that no pivot touches. The
// initramfs (or `offroot arm`) decides the switch once, before dropbear
// starts, and records it in the environment: every later step reads that
// record instead of guessing again.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/step.hpp"
#include "base/undo.hpp"

namespace offroot {

enum class RootSwitch { move, pivot, tmpfs };
std::string to_string(RootSwitch root_switch);

// PID 1's root, from anywhere: under the pivot and tmpfs switches the way
// to the real root while NORMAL, and to the environment's own mount while
// DETACHED.
inline constexpr const char* kPid1Root = "/proc/1/root";
// In the emergency environment, written by start-dropbear or offroot arm:
// "move", "pivot" or "tmpfs".
inline constexpr const char* kRootSwitchRecord = "/etc/offroot/root-switch";
// Pivot and tmpfs switches: where the environment is mounted under the
// real root while NORMAL.
inline constexpr const char* kRootfsMountPoint = "/run/offroot/rootfs";
// Pivot and tmpfs switches: the bind of the environment the emergency
// dropbear and its sessions live in, inside the environment.
inline constexpr const char* kEmergencyRootDir = "/usr/lib/offroot/emergency-root";

// "move" when the record is missing or unknown: images and boots from
// before the record existed used the move switch.
RootSwitch parse_root_switch(const std::string& record_text);
RootSwitch read_root_switch(const std::string& record_path);

// Where the real root's files and its mount table are, seen from where we
// run, while the real root is in place (NORMAL).
struct RealRootView {
    std::string prefix;
    std::string mountinfo;
    std::string path(const std::string& absolute) const { return prefix.empty() ? absolute : prefix + absolute; }
    std::string root() const { return prefix.empty() ? "/" : prefix; }
};

// Which root is in place, as `offroot status` tells it.
struct RootPlacement {
    bool real_root_on_top = false;   // NORMAL's side
    // A path to the environment's own mount, which shows what is mounted in
    // it (the real root at /root once enter put it aside).
    std::string environment_mount;
};

class RootSwitcher {
public:
    virtual ~RootSwitcher() = default;

    virtual RootSwitch kind() const = 0;
    // One line for `offroot status`.
    virtual std::string description() const = 0;

    // --- The boot: run-init has pruned rootfs and given it /dev, /proc,
    // /sys and /run; this enters `new_root` and leaves the environment where
    // the switch keeps it. On success our root and cwd are the new root, or
    // (move) the new root is on top of "/" and our cwd; on failure nothing
    // of the switch itself remains.
    virtual Status enter_real_root_at_boot(const std::string& new_root) const = 0;

    // --- Where things are.
    // The real root from inside the environment (the 1022 session), NORMAL.
    virtual RealRootView real_root_from_environment() const = 0;
    // While PID 1 lives in the environment: the way to the environment's own
    // mount ("" when it is the namespace's root, as under move) and the
    // mount table that shows what is mounted in it.
    virtual std::string pid1_environment_prefix() const = 0;
    virtual std::string pid1_mountinfo() const = 0;
    // A mount of the real root's table that is the environment itself, not
    // something of the disk's.
    virtual bool is_environment_mount(const std::string& mount_point) const = 0;
    // `environment` is a way into the environment from here ("/" when we
    // run in it).
    virtual RootPlacement locate(const std::string& environment, bool we_run_in_environment) const = 0;

    // --- enter.
    // The real root goes to <environment>:/root; PID 1 follows where the
    // switch moves it. Pushes its undo.
    virtual Status put_real_root_aside(const RealRootView& real_root, UndoStack& undo) const = 0;
    // Makes PID 1's re-execution run the stub at `stub_path` (in the
    // environment). `exec_paths`: where PID 1 looks for its binary when it
    // re-executes, the binary it runs first (init_system.hpp). Pushes on
    // `placement` how to remove what led there, which enter rolls back once
    // PID 1 runs the stub.
    virtual Status lead_pid1_to_stub(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                                     UndoStack& placement) const = 0;
    // What lead_pid1_to_stub left when enter died before rolling it back
    // (offroot recover): removed, each said so with `who` leading the line.
    // Nothing there is not an error.
    virtual Status remove_stub_placement(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                                         const std::string& who) const = 0;
    // After PID 1 became the stub, the undo of enter is the return path:
    // the real root in place again, then SIGUSR1. Also the undo of
    // put_real_root_aside while PID 1 is still the real init.
    virtual Status put_real_root_back() const = 0;
    // After the switch, do the services left behind have the sessions' root
    // directory (so that only the mount id tells the sessions apart)?
    virtual bool leftovers_share_sessions_root() const = 0;

    // --- return: the root mounted at <environment>:/root becomes PID 1's
    // root (the stub then only has to exec init, or enters it through "/..").
    virtual Status put_root_in_place(UndoStack& undo) const = 0;

    // --- The dry-run plans' steps for the above.
    virtual std::vector<Step> enter_steps(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                                          const std::string& reexec) const = 0;
    virtual std::vector<Step> return_steps(const std::string& init_kind) const = 0;
};

const RootSwitcher& switcher_for(RootSwitch root_switch);

}  // namespace offroot
