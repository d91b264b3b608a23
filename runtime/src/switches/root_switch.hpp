// How this boot changes roots.
//
// Up to 6.x kernels the initramfs is the namespace's root mount: it can be
// neither unmounted nor pivoted away from, so the real root is moved on top
// of it and entered with chroot; PID 1 later escapes its chroot to reach
// rootfs again (the "move" switch). Since 7.0 the kernel mounts rootfs on
// top of nullfs, an immutable empty filesystem: rootfs is an ordinary mount
// and pivot_root(2) works from the initramfs. pivot_root changes the root
// and cwd of every process that had the old root, PID 1 and kernel threads
// included, in one step (the "pivot" switch).
//
// The emergency sessions must not be carried along when PID 1 pivots, so on
// such kernels dropbear lives in a recursive bind of rootfs (another mount
// of the same files) that no pivot touches. The initramfs decides the
// switch once, before dropbear starts, and records it in rootfs: every later
// step reads that record instead of guessing again.
#pragma once

#include <string>

#include "base/result.hpp"

namespace offroot {

enum class RootSwitch { move, pivot };
std::string to_string(RootSwitch root_switch);

// PID 1's root, from anywhere: under the pivot switch the way to the real
// root while NORMAL, and to rootfs' own mount while DETACHED.
inline constexpr const char* kPid1Root = "/proc/1/root";
// In rootfs, written by start-dropbear: "pivot" or "move".
inline constexpr const char* kRootSwitchRecord = "/etc/offroot/root-switch";
// Pivot switch: where rootfs is mounted under the real root while NORMAL.
inline constexpr const char* kRootfsMountPoint = "/run/offroot/rootfs";
// Pivot switch: the bind of rootfs the emergency dropbear and its sessions
// live in, inside rootfs.
inline constexpr const char* kEmergencyRootDir = "/usr/lib/offroot/emergency-root";

// "move" when the record is missing: images and boots from before the
// record existed used the move switch.
RootSwitch parse_root_switch(const std::string& record_text);
RootSwitch read_root_switch(const std::string& record_path);

// pivot_root(new_root, put_old) made by a child that first takes
// `as_root` (a directory, typically /proc/1/root) as its root and cwd, so
// that the pivot applies to the processes sharing that root, whatever our
// own root is. new_root and put_old are relative to `as_root`.
Status pivot_root_as(const std::string& as_root, const std::string& new_root, const std::string& put_old);

// Pivot switch, from rootfs being PID 1's root with a root filesystem at
// rootfs:/root (after enter, or return's mount): makes that filesystem the
// root of PID 1 and of everything else that lives in rootfs, and puts
// rootfs at /run/offroot/rootfs under it. Its /run gets a tmpfs first if it
// has none (an enter that failed after unmounting it): the root may be
// read-only, /run must not be.
Status pivot_rootfs_under_real_root();

// The calling process's own pivot_root(2), checked.
Status pivot_root_here(const std::string& new_root, const std::string& put_old);

}  // namespace offroot
