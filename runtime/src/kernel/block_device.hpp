// Block devices for `offroot return --root DEVICE`: does it exist, does it
// hold a filesystem we can name, is anyone else using it.
#pragma once

#include <string>

#include "base/result.hpp"

namespace offroot {

// "ext4" (ext2/3/4 share a magic: reported as "ext4"), "xfs", "btrfs", or
// an error saying the device holds no filesystem we recognise.
Result<std::string> probe_filesystem(const std::string& device);

// Opens the device O_EXCL (read-only) and closes it again: the kernel
// refuses while it is mounted or held by device-mapper, md, or another
// exclusive opener. Changes nothing.
Status check_device_free(const std::string& device);

Status check_block_device(const std::string& device);

}  // namespace offroot
