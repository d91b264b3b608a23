// udev's database across return. The initramfs' /run, with udev's
// database in it, is carried into the root at boot; return gives the root a
// fresh /run, and without the database udev takes device-mapper devices
// for uninitialised on its coldplug (SYSTEMD_READY=0): systemd waits 90 s
// for the LVs in fstab and stops at emergency mode (seen on the lvm
// layout). Seed 001 kept the database aside for the same reason.
#pragma once

#include <string>

#include "base/result.hpp"

namespace offroot {

// Copies <from_run>/udev (directories, regular files, symlinks; not its
// control socket) into <to_run>/udev. Nothing to copy is not an error.
Status carry_udev_database(const std::string& from_run, const std::string& to_run);

}  // namespace offroot
