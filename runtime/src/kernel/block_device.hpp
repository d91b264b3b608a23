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

// What fstab may name a filesystem by: its UUID (lowercase, with dashes, as
// blkid prints it) and its label; empty when the superblock has none.
struct FilesystemId {
    std::string type;
    std::string uuid;
    std::string label;
};
Result<FilesystemId> probe_filesystem_id(const std::string& device);
// "0123...": 16 bytes as blkid writes a UUID.
std::string format_uuid(const unsigned char bytes[16]);

Status check_block_device(const std::string& device);

}  // namespace offroot
