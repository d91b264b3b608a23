// What `offroot status` says of the storage stack: each LVM volume, dm-crypt
// mapping, multipath map and md array, what it is built on, and whether
// anything still uses it. DETACHED leaves them assembled and unused, for the
// admin's offline job.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "kernel/block_stack.hpp"

namespace offroot {

struct StorageState {
    StackedDevice device;
    std::string used_by;  // "mounted", "swap", "holds dm-1", ... ; empty: free
    bool free() const { return used_by.empty(); }
};

Result<std::vector<StorageState>> read_storage_state();

// One line a device: "vg0-root (lvm on vda5): free".
std::string format_storage_human(const std::vector<StorageState>& states);

}  // namespace offroot
