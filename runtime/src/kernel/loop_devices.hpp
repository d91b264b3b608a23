// Bound loop devices from /sys/block/loop*/loop: a loop device whose backing
// file lies on the disk keeps that filesystem busy (umount says EBUSY with
// no process to blame).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kernel/processes.hpp"
#include "base/result.hpp"

namespace offroot {

struct LoopDevice {
    std::string name;          // "loop0"
    std::string device;        // "/dev/loop0"
    std::string backing_file;  // as the kernel resolves it, " (deleted)" stripped
    // stat() of backing_file. The kernel exports no device/inode pair in
    // sysfs, so this is empty when the file was unlinked (the path may now
    // name another file) or cannot be stat()ed.
    std::optional<FileId> backing_id;
    bool deleted = false;      // the backing file was unlinked while bound
    bool autoclear = false;    // detaches itself on last close
};

// Unbound devices (no loop/ directory or no backing_file) are left out;
// the result is sorted by device number.
Result<std::vector<LoopDevice>> scan_loop_devices(const std::string& sys_block = "/sys/block");

}  // namespace offroot
