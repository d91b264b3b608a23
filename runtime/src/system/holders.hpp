// offroot check: what holds the root filesystem, and whether `offroot
// enter` can go ahead. Changes nothing.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "system/emergency.hpp"
#include "system/init_system.hpp"
#include "system/offline_tools.hpp"
#include "system/session_space.hpp"
#include "base/result.hpp"

namespace offroot {

struct CheckOptions {
    // RAM that must stay free in DETACHED state for the work on the disk
    // (e2fsck of a large filesystem wants a lot).
    uint64_t min_free_kib = 64 * 1024;
    // Go ahead although the admin's session arrives over a VPN interface
    // (WireGuard, tun/tap) that enter would take down.
    bool force_session_interface = false;
};

struct ProcessRef {
    pid_t pid = 0;
    std::string comm;
};

struct HeldFile {
    ProcessRef process;
    int fd = -1;  // -1: a mapping, not a descriptor
    std::string path;
};

struct BoundSocket {
    std::string path;
    std::vector<ProcessRef> holders;
};

struct OtherMount {
    std::string mount_point;
    std::string fs_type;
    std::string source;
    bool network_or_fuse = false;
};

struct SwapOnDisk {
    std::string name;
    uint64_t used_kib = 0;
};

struct CheckReport {
    std::string root_source;  // e.g. /dev/vda1
    std::string root_fs_type;
    std::string root_mount_root;   // the mount's root within its filesystem: "/", or a btrfs subvolume
    std::string root_mount_point;  // where the real root is as seen from here: "/" or "/.."
    std::string root_disk;         // "vda"

    SystemStatus system;
    InitInfo init;

    std::vector<HeldFile> deleted_files;   // unlinked but open or mapped
    std::vector<HeldFile> written_files;   // open for writing
    std::vector<BoundSocket> unix_sockets; // bound on the root filesystem
    std::vector<SwapOnDisk> swaps;         // every swap but zram: enter turns them off
    std::vector<std::string> loop_devices; // backed by a file on the root
    std::vector<OtherMount> other_mounts;  // everything else under the root, unmounted by enter
    std::vector<ProcessRef> processes_on_root;  // run from the disk: stopped by enter

    uint64_t available_kib = 0;
    uint64_t needed_kib = 0;
    // The tools enter brings into RAM for the offline work (their RAM is in
    // needed_kib).
    ToolPlan tools;
    uint64_t tools_kib = 0;
    // The emergency sessions' /tmp and home, and the room still free in
    // their caps (in needed_kib: a copy into them is RAM taken in DETACHED).
    std::vector<SessionSpace> session_space;
    uint64_t session_kib = 0;

    std::vector<std::string> blockers;  // no-go, with what to do
    std::vector<std::string> notes;     // what enter will handle

    bool go() const { return blockers.empty(); }
};

Result<CheckReport> run_check(const CheckOptions& options);

// Why a root filesystem of this type (mountinfo's, with its source) cannot
// be freed by offroot: on the network or FUSE (what serves it must stay
// up), or zfs (its pool cannot be exported under the running host). None
// for a local disk's filesystem.
std::vector<std::string> root_filesystem_blockers(const std::string& fs_type, const std::string& source);

std::string format_check_human(const CheckReport& report);
std::string format_check_json(const CheckReport& report);

}  // namespace offroot
