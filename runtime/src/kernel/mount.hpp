// Checked mount(2)/umount2(2) calls. Each failure names the call as it was
// made: mount("/root", "/", NULL, MS_MOVE): Invalid argument (EINVAL).
#pragma once

#include <sys/mount.h>

#include <string>

#include "base/result.hpp"

namespace offroot {

std::string mount_flags_to_string(unsigned long flags);

Status mount_fs(const std::string& source, const std::string& target, const std::string& fs_type,
                unsigned long flags, const std::string& data = {});
Status bind_mount(const std::string& source, const std::string& target, bool recursive);
Status move_mount(const std::string& source, const std::string& target);
// MS_MOVE is refused (EINVAL) under a shared parent, and a shared mount
// would propagate our binds into the real root's peers: make private first.
Status make_private(const std::string& path, bool recursive);
Status unmount(const std::string& target, int flags = 0);

// True when `path` is the root of a mount (bind mounts of the same
// filesystem included, which st_dev comparison alone would miss).
Result<bool> is_mount_point(const std::string& path);

}  // namespace offroot
