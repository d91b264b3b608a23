// The storage stack between the filesystems and the disks: device-mapper
// (LVM, dm-crypt, multipath) and md RAID, as sysfs shows it. enter leaves
// it assembled; `offroot status` says what is there and whether anything
// still uses it.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct StackedDevice {
    std::string kernel_name;          // dm-0, md127
    std::string name;                 // vg0-root (dm/name), md127
    std::string kind;                 // lvm, crypt, multipath, dm, raid1, ...
    std::vector<std::string> slaves;  // what it is built on: vda5, dm-1
    std::vector<std::string> holders; // what is built on it
    unsigned major = 0, minor = 0;
};

// Every dm and md device under `sys_block` (/sys/class/block).
Result<std::vector<StackedDevice>> read_block_stack(const std::string& sys_block = "/sys/class/block");

// "lvm" for a dm uuid "LVM-...", "crypt" for "CRYPT-...", "multipath" for
// "mpath-...", else "dm".
std::string dm_kind(const std::string& dm_uuid);

// What a block device is built on, down to the disks: the layers' kinds
// (lvm, crypt, raid1: what the initramfs must assemble) and the whole disks
// at the bottom (vda for vda5: where a boot loader goes), each once, in the
// order met.
struct BlockLineage {
    std::vector<std::string> kinds;
    std::vector<std::string> disks;
    // Every device below it (vda5, dm-0, md0): a member of a mirror with
    // its metadata at the end, or a multipath leg, shows the same
    // filesystem as the device it builds.
    std::vector<std::string> members;
};
BlockLineage read_lineage(const std::string& kernel_name, const std::string& sys_block = "/sys/class/block");

// The kernel's name of a device number ("dm-1" for 253:1), as
// /sys/dev/block links it.
Result<std::string> kernel_name_of(unsigned major, unsigned minor, const std::string& sys_dev_block = "/sys/dev/block");

}  // namespace offroot
