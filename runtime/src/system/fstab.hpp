// The root entry of a root filesystem's /etc/fstab: before `offroot return
// --root DEV` hands PID 1 over, the new root's init must find itself there
// (sysvinit's checkroot.sh stops at a maintenance prompt when fstab names
// another device; systemd would check and remount another one).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "kernel/block_device.hpp"

namespace offroot {

struct FstabEntry {
    std::string spec;  // UUID=..., LABEL=..., /dev/...
    std::string mount_point;
    std::string type;
    std::string options;
};

// The first entry for "/", as checkroot.sh and mount(8) take it. Comments
// and blank lines skipped, \040 unescaped.
std::optional<FstabEntry> fstab_root_entry(std::string_view fstab_text);

// The text with the root entry's first field replaced by `new_spec`, and
// nothing else touched: the other fields, their spacing, the comments and
// every other line stay byte for byte (an admin's fstab is theirs). An
// error when no line mounts "/".
Result<std::string> rewrite_fstab_root(std::string_view fstab_text, const std::string& new_spec);

// Whether `spec` names the filesystem `id` on `device`: UUID= and LABEL=
// against the superblock, a path against the device number, PARTUUID= and
// PARTLABEL= by udev's /dev/disk/by-part* links (no link: not this one).
bool fstab_spec_names(const std::string& spec, const std::string& device, const FilesystemId& id);

// Reads <root_dir>/etc/fstab and checks its root entry names `device`.
// No fstab, or no root entry: fine (the init takes the mounted root).
Status check_fstab_names_root(const std::string& root_dir, const std::string& device);

}  // namespace offroot
