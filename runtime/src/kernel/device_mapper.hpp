// Device-mapper devices (LVM's LVs, dm-crypt mappings) marked for deferred
// removal: the kernel removes such a device the moment its last opener
// closes it. Debian's encrypted-LVM boot leaves the root LV and its
// dm-crypt mapping marked so, and enter closes them by unmounting the root:
// without a hold, the root LV (and the mapping, with the key needed to
// open it again) would vanish under the admin in DETACHED.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct DmDeviceState {
    std::string name;
    bool deferred_remove = false;
    int open_count = 0;
};

// Every device-mapper device of the storage stack (block_stack.hpp), with
// its state from the control device.
Result<std::vector<DmDeviceState>> list_dm_devices(const std::string& sys_block = "/sys/class/block");

Result<DmDeviceState> dm_device_state(const std::string& name);

// "@cancel_deferred_remove": the device stays when its last opener closes.
Status cancel_deferred_removal(const std::string& name);

// Marks an open device for deferred removal again (DM_DEV_REMOVE with
// DM_DEFERRED_REMOVE). On a device nobody holds open that would remove it
// at once: refused here, the caller decides.
Status defer_removal(const std::string& name);

// The one-line-per-name record enter keeps of the devices it held.
std::string serialize_dm_names(const std::vector<std::string>& names);
std::vector<std::string> parse_dm_names(const std::string& text);

}  // namespace offroot
