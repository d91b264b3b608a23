#include "system/persist.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <cerrno>
#include <cstdint>

#include "base/files.hpp"
#include "base/log.hpp"
#include "base/text.hpp"
#include "kernel/block_stack.hpp"
#include "kernel/kernel_cmdline.hpp"
#include "kernel/mountinfo.hpp"
#include "system/fstab.hpp"

namespace offroot {

std::string serialize(const ReturnRecord& record) {
    return "root_device=" + record.root_device + "\nprevious_root_device=" + record.previous_root_device + "\n";
}

Result<ReturnRecord> parse_return_record(const std::string& text) {
    ReturnRecord r;
    for (auto line : split_lines(text)) {
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "root_device") r.root_device = std::string(value);
        if (key == "previous_root_device") r.previous_root_device = std::string(value);
    }
    if (r.root_device.empty()) return plain_error("the return record names no root_device");
    return r;
}

std::string BootDrift::message() const {
    return "the next reboot goes back to " + old + " (" + source + "): run offroot persist";
}

std::optional<std::string> grub_cfg_root(std::string_view grub_cfg) {
    for (auto line : split_lines(grub_cfg)) {
        auto words = split_fields(line, " \t");
        if (words.empty() || (words[0] != "linux" && words[0] != "linux16" && words[0] != "linuxefi")) continue;
        for (size_t i = 1; i < words.size(); ++i)
            if (words[i].rfind("root=", 0) == 0) return std::string(words[i].substr(5));
        return std::nullopt;  // the default entry passes none: the initramfs' own
    }
    return std::nullopt;
}

std::optional<BootDrift> boot_drift(const std::string& device, const FilesystemId& id,
                                    const std::optional<std::string>& fstab_text,
                                    const std::optional<std::string>& grub_cfg,
                                    const std::optional<std::string>& cmdline_root) {
    if (fstab_text)
        if (auto entry = fstab_root_entry(*fstab_text); entry && !fstab_spec_names(entry->spec, device, id))
            return BootDrift{entry->spec, "/etc/fstab"};
    if (grub_cfg) {
        if (auto root = grub_cfg_root(*grub_cfg); root && !fstab_spec_names(*root, device, id))
            return BootDrift{*root, "root= in /boot/grub/grub.cfg"};
        return std::nullopt;
    }
    if (cmdline_root && !fstab_spec_names(*cmdline_root, device, id))
        return BootDrift{*cmdline_root, "root= of /proc/cmdline"};
    return std::nullopt;
}

namespace {

// A missing file is an answer (nothing), an unreadable one an error.
Result<std::optional<std::string>> read_if_there(const std::string& path) {
    auto text = read_file(path);
    if (text) return std::optional<std::string>(std::move(*text));
    if (text.error().err == ENOENT) return std::optional<std::string>();
    return text.error();
}

std::optional<std::string> cmdline_root() {
    auto cmdline = KernelCmdline::read("/proc/cmdline");
    if (!cmdline) return std::nullopt;
    return cmdline->value("root");
}

}  // namespace

Result<std::optional<BootDrift>> read_boot_drift(const std::string& root_prefix, const std::string& device) {
    auto id = probe_filesystem_id(device);
    if (!id) return id.error();
    auto fstab = read_if_there(root_prefix + "/etc/fstab");
    if (!fstab) return fstab.error();
    auto grub = read_if_there(root_prefix + "/boot/grub/grub.cfg");
    if (!grub) return grub.error();
    return boot_drift(device, *id, *fstab, *grub, cmdline_root());
}

Result<BootDiskChoice> choose_boot_disks(const BootDiskInputs& in) {
    BootDiskChoice c;
    if (in.efi && !in.explicit_disk.empty())
        return plain_error("--boot-disk is for BIOS booting; this system boots by EFI",
                           "run offroot persist without --boot-disk: grub-install updates the EFI system partition");
    if (!in.explicit_disk.empty()) {
        c.install = true;
        c.disks = {in.explicit_disk};
        c.why = "--boot-disk";
        return c;
    }
    if (!in.boot_moved) {
        c.why = "/boot did not move (a filesystem of its own, or the root the boot came from): the installed GRUB "
                "finds it as before";
        return c;
    }
    if (in.efi) {
        c.install = true;
        c.why = "EFI: grub-install points the EFI system partition's GRUB at the new /boot";
        return c;
    }
    if (!in.debconf_gone.empty())
        return plain_error("grub-pc's install_devices names " + join(in.debconf_gone, ", ") +
                               ", which no longer exists: which disk boots is not known",
                           "give it: offroot persist --boot-disk /dev/DISK (then dpkg-reconfigure grub-pc, so that "
                           "GRUB's updates go there too)");
    if (!in.debconf.empty()) {
        c.install = true;
        c.disks = in.debconf;
        c.why = "grub-pc's install_devices: where the firmware has been finding GRUB";
        return c;
    }
    if (in.boot_disks.size() == 1) {
        c.install = true;
        c.disks = in.boot_disks;
        c.why = "the disk holding /boot";
        return c;
    }
    if (in.boot_disks.empty())
        return plain_error("no disk found under /boot's filesystem: which disk boots is not known",
                           "give it: offroot persist --boot-disk /dev/DISK");
    return plain_error("/boot's filesystem lies on " + join(in.boot_disks, ", ") + ": which one boots is ambiguous",
                       "give it: offroot persist --boot-disk /dev/DISK, then grub-install the others by hand");
}

namespace {

bool has(const std::vector<std::string>& list, const std::string& item) {
    for (const auto& x : list)
        if (x == item || (item == "raid" && x.rfind("raid", 0) == 0)) return true;
    return false;
}

// The argv as typed, for the admin.
std::string typed(const Command& c) {
    std::string out;
    for (const auto& a : c.argv) out += (out.empty() ? "" : " ") + a;
    return out;
}

PersistStep command_step(const std::string& name, const std::string& action, std::vector<std::string> argv,
                         const std::string& root_prefix, int timeout_seconds) {
    PersistStep s;
    s.command.argv = std::move(argv);
    s.command.chroot_dir = root_prefix;
    s.command.timeout_seconds = timeout_seconds;
    s.step = Step{name, action, "none needed: it rebuilds from the system as it is"};
    s.hand = typed(s.command);
    return s;
}

}  // namespace

Result<std::vector<PersistStep>> plan_persist(const PersistInputs& in) {
    const std::string refused = "refusing to persist, nothing was changed";
    if (in.root_id.uuid.empty())
        return plain_error(in.root_device + " holds a filesystem without a UUID: fstab could not name it").context(refused);
    if (!in.duplicate_uuid_devices.empty())
        return plain_error(join(in.duplicate_uuid_devices, ", ") + " holds the same filesystem UUID as the running root " +
                               in.root_device + " (a block copy): a boot by UUID could take either",
                           "give the old one a new UUID (tune2fs -U random, xfs_admin -U generate) or wipe it, "
                           "then offroot persist again")
            .context(refused);
    if (in.generator == InitramfsGenerator::none)
        return plain_error("no initramfs generator in the root (initramfs-tools' mkinitramfs or dracut)",
                           "install initramfs-tools or dracut").context(refused);
    const bool itools = in.generator == InitramfsGenerator::initramfs_tools;
    // The new stack is assembled by the initramfs, from tools it copies in.
    if (has(in.stack_kinds, "lvm") && !in.has_lvm)
        return plain_error(in.root_device + " is an LVM volume and lvm2 is not installed: the initramfs could not "
                                            "activate it",
                           "apt-get install lvm2, then offroot persist").context(refused);
    if (has(in.stack_kinds, "crypt") && (!in.has_cryptsetup || (itools && !in.has_cryptsetup_initramfs)))
        return plain_error(in.root_device + " is on dm-crypt and " +
                               (in.has_cryptsetup ? "cryptsetup-initramfs" : "cryptsetup") +
                               " is not installed: the initramfs could not unlock it",
                           std::string("apt-get install ") + (itools ? "cryptsetup-initramfs" : "cryptsetup") +
                               ", list the device in /etc/crypttab, then offroot persist")
            .context(refused);
    if (has(in.stack_kinds, "raid") && !in.has_mdadm)
        return plain_error(in.root_device + " is on md RAID and mdadm is not installed: the initramfs could not "
                                            "assemble it",
                           "apt-get install mdadm, then offroot persist").context(refused);
    if (!in.has_update_grub)
        return plain_error("update-grub is not in the root: offroot persist knows GRUB only",
                           "point the boot loader at root=UUID=" + in.root_id.uuid + " by hand").context(refused);
    auto boot = choose_boot_disks(in.boot);
    if (!boot) return boot.error().context(refused);
    if (boot->install && !in.has_grub_install)
        return plain_error("grub-install is not in the root, and /boot moved: " + boot->why,
                           "install grub-pc (or grub-efi), then offroot persist").context(refused);

    std::vector<PersistStep> steps;
    const std::string new_spec = "UUID=" + in.root_id.uuid;
    PersistStep fstab;
    if (!in.fstab_text) {
        fstab.step = Step{"fstab", "no /etc/fstab: nothing to change (the init takes the mounted root)", "nothing"};
    } else if (auto entry = fstab_root_entry(*in.fstab_text); !entry) {
        fstab.step = Step{"fstab", "/etc/fstab has no entry for /: nothing to change", "nothing"};
    } else if (entry->spec.rfind("UUID=", 0) == 0 && fstab_spec_names(entry->spec, in.root_device, in.root_id)) {
        // A path that names it today is kept out: /dev names change with
        // the disks around them, a UUID does not.
        fstab.step = Step{"fstab", "the root entry already names " + in.root_device + " (" + entry->spec + ")", "nothing"};
    } else {
        auto text = rewrite_fstab_root(*in.fstab_text, new_spec);
        if (!text) return text.error().context(refused);
        const std::string backup = "/etc/fstab.offroot-" + in.backup_suffix;
        fstab.step = Step{"fstab", "/etc/fstab's root entry: " + entry->spec + " -> " + new_spec +
                                       " (its other fields kept; the old file kept as " + backup + ")",
                          "cp " + backup + " /etc/fstab"};
        fstab.new_fstab = std::move(*text);
        fstab.fstab_backup = backup;
        fstab.hand = "cp /etc/fstab " + backup + ", then edit /etc/fstab: the line for / names " + new_spec;
    }
    steps.push_back(std::move(fstab));

    const std::string stack = join(in.stack_kinds, ", ");
    const std::string assembles = stack.empty() ? "" : " (it assembles " + stack + ")";
    if (itools)
        steps.push_back(command_step("initramfs", "rebuild every kernel's initramfs for the new root" + assembles,
                                     {"update-initramfs", "-u", "-k", "all"}, in.root_prefix, 1800));
    else
        steps.push_back(command_step("initramfs", "rebuild every kernel's initramfs for the new root" + assembles,
                                     {"dracut", "--regenerate-all", "-f"}, in.root_prefix, 1800));
    // grub-mkconfig writes root=UUID= for a plain device and the device's
    // path for a device-mapper one (LVM, dm-crypt): either names this root.
    const std::string grub_root = has(in.stack_kinds, "lvm") || has(in.stack_kinds, "crypt") ? in.root_device : new_spec;
    steps.push_back(command_step("grub-config", "regenerate /boot/grub/grub.cfg: root=" + grub_root,
                                 {"update-grub"}, in.root_prefix, 600));
    if (!boot->install) {
        PersistStep skip;
        skip.step = Step{"grub-install", "not needed: " + boot->why, "nothing"};
        steps.push_back(std::move(skip));
    } else if (boot->disks.empty()) {
        steps.push_back(command_step("grub-install", "install GRUB (" + boot->why + ")", {"grub-install"},
                                     in.root_prefix, 600));
    } else {
        for (const auto& disk : boot->disks)
            steps.push_back(command_step("grub-install", "install GRUB on " + disk + " (" + boot->why + ")",
                                         {"grub-install", disk}, in.root_prefix, 600));
    }
    return steps;
}

std::vector<std::string> debconf_install_devices(std::string_view config_dat) {
    bool in_stanza = false;
    for (auto line : split_lines(config_dat)) {
        if (line.rfind("Name: ", 0) == 0) in_stanza = line.substr(6) == "grub-pc/install_devices";
        if (!in_stanza || line.rfind("Value:", 0) != 0) continue;
        std::vector<std::string> out;
        for (auto word : split_fields(line.substr(6), ", \t")) out.emplace_back(word);
        return out;
    }
    return {};
}

namespace {

// The device behind one mount of the table.
Result<std::string> device_of(const MountEntry* m, const std::string& mount_point, const std::string& mountinfo) {
    if (m == nullptr) return plain_error("no mount serves " + mount_point + " in " + mountinfo);
    // The device number names the device whatever mount(2) was given;
    // btrfs' is anonymous, and then the source does.
    if (auto name = kernel_name_of(m->major, m->minor); name) {
        if (auto dm = read_file("/sys/class/block/" + *name + "/dm/name"); dm && !dm->empty())
            return "/dev/mapper/" + dm->substr(0, dm->find('\n'));
        return "/dev/" + *name;
    }
    if (m->source.rfind("/dev/", 0) == 0) return m->source;
    return plain_error(mount_point + " is " + m->fs_type + " from " + m->source + ", not a block device");
}

}  // namespace

Result<std::string> device_of_mount(const std::string& mountinfo, const std::string& mount_point) {
    auto table = MountTable::read(mountinfo);
    if (!table) return table.error();
    return device_of(table->mount_of(mount_point), mount_point, mountinfo);
}

namespace {

bool in_root(const std::string& prefix, std::initializer_list<const char*> paths) {
    for (const char* p : paths)
        if (stat_path(prefix + p)) return true;
    return false;
}

bool program_in_root(const std::string& prefix, const std::string& name) {
    for (const char* dir : {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"})
        if (stat_path(prefix + dir + name)) return true;
    return false;
}

std::string kernel_name_of_path(const std::string& device) {
    auto st = stat_path(device);
    if (!st || !S_ISBLK(st->st_mode)) return "";
    auto name = kernel_name_of(major(st->st_rdev), minor(st->st_rdev));
    return name ? *name : "";
}

std::string utc_stamp() {
    const time_t now = ::time(nullptr);
    struct tm tm {};
    char buf[32] = "now";
    if (::gmtime_r(&now, &tm) != nullptr) ::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    return buf;
}

}  // namespace

Result<PersistInputs> read_persist_inputs(const std::string& root_prefix, const std::string& mountinfo,
                                          const std::string& root_mount_point, const std::string& explicit_disk) {
    PersistInputs in;
    in.root_prefix = root_prefix;
    auto table = MountTable::read(mountinfo);
    if (!table) return table.error();
    const MountEntry* root_mount = table->mount_of(root_mount_point);
    const std::string boot_mount_point = path_join(root_mount_point, "boot");
    const MountEntry* boot_mount = table->mount_of(boot_mount_point);
    auto device = device_of(root_mount, root_mount_point, mountinfo);
    if (!device) return device.error().context("finding the running root");
    in.root_device = *device;
    auto id = probe_filesystem_id(in.root_device);
    if (!id) return id.error().context("reading the running root's superblock");
    in.root_id = *id;
    auto fstab = read_if_there(root_prefix + "/etc/fstab");
    if (!fstab) return fstab.error();
    in.fstab_text = *fstab;
    in.backup_suffix = utc_stamp();

    const std::string kname = kernel_name_of_path(in.root_device);
    BlockLineage lineage;
    if (!kname.empty()) lineage = read_lineage(kname);
    in.stack_kinds = lineage.kinds;
    auto below_root = [&lineage](const std::string& n) {
        for (const auto& m : lineage.members)
            if (m == n) return true;
        return false;
    };
    // A block copy (dd, e2image) keeps the UUID: the boot could take either.
    if (!in.root_id.uuid.empty())
        if (auto names = list_dir("/sys/class/block"); names)
            for (const auto& n : *names) {
                if (n == kname || below_root(n) || n.rfind("sr", 0) == 0 || n.rfind("fd", 0) == 0 || n.rfind("ram", 0) == 0) continue;
                auto other = probe_filesystem_id("/dev/" + n);
                if (other && other->uuid == in.root_id.uuid) in.duplicate_uuid_devices.push_back("/dev/" + n);
            }

    if (in_root(root_prefix, {"/usr/sbin/mkinitramfs", "/sbin/mkinitramfs"}))
        in.generator = InitramfsGenerator::initramfs_tools;
    else if (program_in_root(root_prefix, "dracut"))
        in.generator = InitramfsGenerator::dracut;
    in.has_lvm = program_in_root(root_prefix, "lvm");
    in.has_cryptsetup = program_in_root(root_prefix, "cryptsetup");
    in.has_cryptsetup_initramfs = in_root(root_prefix, {"/usr/share/initramfs-tools/hooks/cryptroot"});
    in.has_mdadm = program_in_root(root_prefix, "mdadm");
    in.has_update_grub = program_in_root(root_prefix, "update-grub");
    in.has_grub_install = program_in_root(root_prefix, "grub-install");

    BootDiskInputs& b = in.boot;
    b.explicit_disk = explicit_disk;
    if (!explicit_disk.empty()) {
        if (auto s = check_block_device(explicit_disk); !s) return s.error().context("--boot-disk");
        if (stat_path("/sys/class/block/" + kernel_name_of_path(explicit_disk) + "/partition"))
            return plain_error("--boot-disk " + explicit_disk + " is a partition", "give the whole disk, e.g. /dev/vda");
    }
    // As the root sees it: the same kernel's sysfs, mounted in it.
    b.efi = stat_path(root_prefix + "/sys/firmware/efi").ok();
    const bool boot_on_root = root_mount != nullptr && root_mount == boot_mount;
    // The root moved when the kernel that booted was not given this one.
    const auto booted = cmdline_root();
    b.boot_moved = boot_on_root && (!booted || !fstab_spec_names(*booted, in.root_device, in.root_id));
    if (boot_mount != nullptr) {
        auto boot_device = boot_on_root ? Result<std::string>(in.root_device)
                                        : device_of(boot_mount, boot_mount_point, mountinfo);
        if (boot_device)
            for (const auto& d : read_lineage(kernel_name_of_path(*boot_device)).disks) b.boot_disks.push_back("/dev/" + d);
    }
    auto debconf = read_if_there(root_prefix + "/var/cache/debconf/config.dat");
    if (!debconf) return debconf.error();
    if (*debconf) b.debconf = debconf_install_devices(**debconf);
    for (const auto& d : b.debconf)
        if (!stat_path(d)) b.debconf_gone.push_back(d);
    return in;
}

Status run_persist(const std::vector<PersistStep>& steps, const std::string& root_prefix) {
    std::vector<std::string> done;
    for (size_t i = 0; i < steps.size(); ++i) {
        const PersistStep& s = steps[i];
        Status result;
        if (s.step.name == "fstab" && !s.new_fstab.empty()) {
            const std::string path = root_prefix + "/etc/fstab";
            auto old = read_file(path);
            auto st = stat_path(path);
            if (!old) result = old.error();
            else if (!st) result = st.error();
            // Both whole or not at all: the backup first, then the new
            // text renamed over the old.
            else if (auto b = replace_file(root_prefix + s.fstab_backup, *old, st->st_mode & 07777); !b) result = b;
            else result = replace_file(path, s.new_fstab, st->st_mode & 07777);
        } else if (!s.command.argv.empty()) {
            log_info("persist: " + describe(s.command));
            auto r = run_command(s.command);
            if (!r) result = r.error();
            else if (!r->ok())
                result = plain_error(describe(s.command) + " exited with status " + std::to_string(r->exit_status) +
                                     (r->output.empty() ? std::string() : ":\n" + r->output));
        }
        if (!result) {
            std::string what = "step " + s.step.name + " failed: " + result.error().message();
            what += "\n  done: " + (done.empty() ? std::string("nothing") : join(done, ", "));
            what += "\n  not done, run by hand in the running root:";
            for (size_t j = i; j < steps.size(); ++j)
                if (!steps[j].hand.empty()) what += "\n    " + steps[j].hand;
            return plain_error(what);
        }
        log_info("persist: " + s.step.name + " done");
        done.push_back(s.step.name);
    }
    return {};
}

}  // namespace offroot
