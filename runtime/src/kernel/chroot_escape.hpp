// chroot() alone is escapable: keep a handle on the current root, chroot
// into a directory below it, fchdir back to the handle (now outside the
// root, so ".." is no longer stopped by it) and climb until ".." is ".".
// offroot-init uses this to leave the real root it was started in and
// reach rootfs, where it will live while the disk is away.
#pragma once

#include <sys/stat.h>

#include <functional>

#include "base/result.hpp"

namespace offroot {

// On success the calling process's root and cwd are the topmost directory
// reachable in its mount namespace, or the first directory on the way up
// for which `stop_here` (asked with that directory as cwd) says yes.
// Returns the stat of the new root.
Result<struct stat> escape_chroot(const std::function<bool()>& stop_here = {});

}  // namespace offroot
