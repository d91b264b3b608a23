// offroot persist: after `offroot return --root DEV` the system runs from
// DEV, but /etc/fstab, the initramfs and GRUB still name the root the boot
// came from, and the next reboot goes back there. persist makes the move
// last, inside the running root: fstab's root entry by UUID, the initramfs
// rebuilt by the generator in use, grub.cfg regenerated and GRUB installed
// where the firmware finds it when /boot moved with the root.
//
// Planned first from what was read (PersistInputs: pure, for the tests and
// --dry-run), then run step by step; a failed step says what was done,
// what was not, and what to run by hand.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/step.hpp"
#include "base/subprocess.hpp"
#include "kernel/block_device.hpp"

namespace offroot {

// What return leaves in the environment's RAM: the device it returned
// onto, and the one enter took away (the boot's). Lost at reboot, when the
// question it answers is gone too.
inline constexpr const char* kReturnRecord = "/var/lib/offroot/returned";

struct ReturnRecord {
    std::string root_device;
    std::string previous_root_device;
};
std::string serialize(const ReturnRecord& record);
Result<ReturnRecord> parse_return_record(const std::string& text);

// The running root still unknown to the next boot: `old` is what sends
// the boot back (a fstab spec, a root= value), `source` where it was read.
struct BootDrift {
    std::string old;
    std::string source;
    std::string message() const;  // "the next reboot goes back to OLD (SOURCE): run offroot persist"
};

// The root= of grub.cfg's first kernel line (the default entry's), if any.
std::optional<std::string> grub_cfg_root(std::string_view grub_cfg);

// fstab's root entry first; then grub.cfg's root=, or without a grub.cfg
// the running kernel's (what the boot loader will pass again). Nothing
// when each names `device` (whose superblock says `id`).
std::optional<BootDrift> boot_drift(const std::string& device, const FilesystemId& id,
                                    const std::optional<std::string>& fstab_text,
                                    const std::optional<std::string>& grub_cfg,
                                    const std::optional<std::string>& cmdline_root);

// The same, read from the real root under `root_prefix` ("" = ours) whose
// root filesystem is on `device`.
Result<std::optional<BootDrift>> read_boot_drift(const std::string& root_prefix, const std::string& device);

enum class InitramfsGenerator { none, initramfs_tools, dracut };

// Where GRUB goes, as read.
struct BootDiskInputs {
    std::string explicit_disk;             // --boot-disk
    bool efi = false;                      // /sys/firmware/efi
    bool boot_moved = false;               // /boot is on the root, and the root moved
    std::vector<std::string> debconf;      // grub-pc/install_devices, as listed
    std::vector<std::string> debconf_gone; // of those, the ones that do not exist
    std::vector<std::string> boot_disks;   // the disks under /boot's filesystem (/dev/vdb)
};

struct BootDiskChoice {
    bool install = false;
    std::vector<std::string> disks;  // empty with install on EFI: grub-install knows its ESP
    std::string why;
};

// grub-pc/install_devices in debconf's own database
// (/var/cache/debconf/config.dat: a stanza per question, "Value: a, b").
std::vector<std::string> debconf_install_devices(std::string_view config_dat);

// The disk that boots: --boot-disk; on EFI the ESP's GRUB; else grub-pc's
// install_devices (where the firmware has been finding GRUB); else the one
// disk under /boot. Several candidates, or a listed one gone: refused, the
// admin says which. Nothing to install when /boot did not move.
Result<BootDiskChoice> choose_boot_disks(const BootDiskInputs& in);

struct PersistInputs {
    std::string root_prefix;   // "" = ours; else commands run chrooted there
    std::string root_device;   // /dev/mapper/vg-root
    FilesystemId root_id;
    std::optional<std::string> fstab_text;
    std::string backup_suffix;  // fstab.offroot-SUFFIX beside /etc/fstab
    std::vector<std::string> stack_kinds;  // lvm, crypt, raid1 ...
    std::vector<std::string> duplicate_uuid_devices;
    InitramfsGenerator generator = InitramfsGenerator::none;
    // Tools the initramfs needs for the stack, present in the root.
    bool has_lvm = false, has_cryptsetup = false, has_cryptsetup_initramfs = false, has_mdadm = false;
    bool has_update_grub = false, has_grub_install = false;
    BootDiskInputs boot;
};

struct PersistStep {
    Step step;         // name, what it does (undo: how to go back by hand)
    Command command;   // empty argv: offroot's own (the fstab rewrite)
    std::string hand;  // what the admin runs by hand when it fails or is not reached
    // The fstab step's: the new text, and where the old one is kept
    // (relative to the root). Empty: nothing to write.
    std::string new_fstab;
    std::string fstab_backup;
};

// Every refusal before anything changes.
Result<std::vector<PersistStep>> plan_persist(const PersistInputs& in);

// Reads everything plan_persist needs from the real root under
// `root_prefix`, whose "/" is mounted at `root_mount_point` of the mount
// table `mountinfo`; `explicit_disk` is --boot-disk.
Result<PersistInputs> read_persist_inputs(const std::string& root_prefix, const std::string& mountinfo,
                                          const std::string& root_mount_point, const std::string& explicit_disk);

// The device under a mount point of `mountinfo` (/dev/mapper/NAME for
// device-mapper).
Result<std::string> device_of_mount(const std::string& mountinfo, const std::string& mount_point);

// Runs the plan; the first failure stops it, its error listing what was
// done, what not, and the commands for the rest.
Status run_persist(const std::vector<PersistStep>& steps, const std::string& root_prefix);

}  // namespace offroot
