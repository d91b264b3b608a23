#include "catch.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kernel/block_stack.hpp"
#include "system/fstab.hpp"
#include "system/persist.hpp"
#include "test_support.hpp"

using namespace offroot;
namespace fs = std::filesystem;

namespace {

const char* const kInstallerFstab =
    "# /etc/fstab: static file system information.\n"
    "# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
    "# / was on /dev/vda1 during installation\n"
    "UUID=11111111-2222-4333-8444-555555555555 /               ext4    errors=remount-ro 0       1\n"
    "/dev/vdc1 /srv ext4 defaults 0 2\n"
    "/swapfile none swap sw 0 0\n";

const char* const kNewUuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

PersistInputs lvm_migration() {
    PersistInputs in;
    in.root_device = "/dev/mapper/vg0-root";
    in.root_id = FilesystemId{"ext4", kNewUuid, ""};
    in.fstab_text = std::string(kInstallerFstab);
    in.backup_suffix = "20261202-030000";
    in.stack_kinds = {"lvm"};
    in.generator = InitramfsGenerator::initramfs_tools;
    in.has_lvm = in.has_update_grub = in.has_grub_install = true;
    in.boot.boot_moved = true;
    in.boot.debconf = {"/dev/vda"};
    in.boot.boot_disks = {"/dev/vdb"};
    return in;
}

std::vector<std::string> names(const std::vector<PersistStep>& steps) {
    std::vector<std::string> out;
    for (const auto& s : steps) out.push_back(s.step.name);
    return out;
}

}  // namespace

TEST_CASE("persist: fstab's root entry renamed, every other byte kept", "[persist]") {
    auto text = rewrite_fstab_root(kInstallerFstab, std::string("UUID=") + kNewUuid);
    REQUIRE(text);
    const std::string expected = std::string(kInstallerFstab)
                                     .replace(std::string(kInstallerFstab).find("UUID=1111"),
                                              std::string("UUID=11111111-2222-4333-8444-555555555555").size(),
                                              std::string("UUID=") + kNewUuid);
    CHECK(*text == expected);
    CHECK(text->find("ext4    errors=remount-ro 0       1\n") != std::string::npos);
    auto entry = fstab_root_entry(*text);
    REQUIRE(entry);
    CHECK(entry->spec == std::string("UUID=") + kNewUuid);

    // Leading blanks, tabs, no newline at the end, a commented-out root first.
    auto tabs = rewrite_fstab_root("#/dev/sda1 / ext4 defaults 0 1\n  /dev/sda2\t/\tbtrfs\tsubvol=@\t0\t0", "UUID=x");
    REQUIRE(tabs);
    CHECK(*tabs == "#/dev/sda1 / ext4 defaults 0 1\n  UUID=x\t/\tbtrfs\tsubvol=@\t0\t0");
    // Only the first root entry, as mount(8) takes it.
    auto twice = rewrite_fstab_root("/dev/a / ext4 d 0 1\n/dev/b / ext4 d 0 1\n", "UUID=x");
    REQUIRE(twice);
    CHECK(*twice == "UUID=x / ext4 d 0 1\n/dev/b / ext4 d 0 1\n");
    CHECK_FALSE(rewrite_fstab_root("proc /proc proc defaults 0 0\n", "UUID=x"));
}

TEST_CASE("persist: grub.cfg's root= is the default entry's", "[persist]") {
    const char* cfg =
        "menuentry 'Debian GNU/Linux' {\n"
        "\tlinux\t/boot/vmlinuz-6.12.0-1-amd64 root=UUID=11111111-2222-4333-8444-555555555555 ro quiet\n"
        "}\n"
        "menuentry 'other' {\n\tlinux /boot/vmlinuz root=/dev/sdz1 ro\n}\n";
    CHECK(grub_cfg_root(cfg) == std::optional<std::string>("UUID=11111111-2222-4333-8444-555555555555"));
    CHECK_FALSE(grub_cfg_root("menuentry x {\n  linux /vmlinuz ro\n}\n"));
    CHECK_FALSE(grub_cfg_root(""));
}

TEST_CASE("persist: the next boot's root against the running one", "[persist]") {
    const FilesystemId id{"ext4", kNewUuid, "root"};
    const std::string fresh_cfg = std::string("linux /vmlinuz root=UUID=") + kNewUuid + " ro\n";
    const std::string old_cfg = "linux /vmlinuz root=UUID=11111111-2222-4333-8444-555555555555 ro\n";
    const std::string good_fstab = std::string("UUID=") + kNewUuid + " / ext4 defaults 0 1\n";

    auto from_fstab = boot_drift("/dev/null", id, std::string(kInstallerFstab), fresh_cfg, std::nullopt);
    REQUIRE(from_fstab);
    CHECK(from_fstab->old == "UUID=11111111-2222-4333-8444-555555555555");
    CHECK(from_fstab->message() == "the next reboot goes back to UUID=11111111-2222-4333-8444-555555555555 "
                                   "(/etc/fstab): run offroot persist");
    // fstab right (return insists), grub.cfg still the old root's.
    auto from_grub = boot_drift("/dev/null", id, good_fstab, old_cfg, std::nullopt);
    REQUIRE(from_grub);
    CHECK(from_grub->source == "root= in /boot/grub/grub.cfg");
    // No grub.cfg: the boot loader passes what it passed.
    auto from_cmdline = boot_drift("/dev/null", id, good_fstab, std::nullopt, std::string("/dev/sda1"));
    REQUIRE(from_cmdline);
    CHECK(from_cmdline->old == "/dev/sda1");
    CHECK_FALSE(boot_drift("/dev/null", id, good_fstab, fresh_cfg, std::string("/dev/sda1")));
    // A PARTUUID no partition has (no udev link): not the running root.
    auto partuuid = boot_drift("/dev/null", id, good_fstab, std::string("linux /vmlinuz root=PARTUUID=0ff1ce00-01 ro\n"),
                               std::nullopt);
    REQUIRE(partuuid);
    CHECK(partuuid->old == "PARTUUID=0ff1ce00-01");
    CHECK_FALSE(boot_drift("/dev/null", id, std::nullopt, std::nullopt, std::string("LABEL=root")));
}

TEST_CASE("persist: grub-pc's install_devices from debconf's database", "[persist]") {
    const char* config =
        "Name: grub-pc/install_devices_empty\n"
        "Template: grub-pc/install_devices_empty\n"
        "Value: false\n"
        "Owners: grub-pc\n"
        "\n"
        "Name: grub-pc/install_devices\n"
        "Template: grub-pc/install_devices\n"
        "Value: /dev/disk/by-id/ata-one, /dev/vdb\n"
        "Owners: grub-pc\n"
        "Flags: seen\n"
        "\n"
        "Name: grub-pc/postrm_purge_boot_grub\n"
        "Value: /dev/sdz\n";
    CHECK(debconf_install_devices(config) == std::vector<std::string>{"/dev/disk/by-id/ata-one", "/dev/vdb"});
    CHECK(debconf_install_devices("Name: grub-pc/install_devices\nTemplate: grub-pc/install_devices\n\n").empty());
    CHECK(debconf_install_devices("").empty());
}

TEST_CASE("persist: the disk that boots", "[persist]") {
    BootDiskInputs in;
    in.boot_moved = true;
    in.debconf = {"/dev/disk/by-id/virtio-old"};
    in.boot_disks = {"/dev/vdb"};
    auto debconf = choose_boot_disks(in);
    REQUIRE(debconf);
    CHECK(debconf->install);
    CHECK(debconf->disks == std::vector<std::string>{"/dev/disk/by-id/virtio-old"});

    in.explicit_disk = "/dev/vdb";
    auto given = choose_boot_disks(in);
    REQUIRE(given);
    CHECK(given->disks == std::vector<std::string>{"/dev/vdb"});
    in.explicit_disk.clear();

    in.debconf_gone = in.debconf;
    auto gone = choose_boot_disks(in);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().message().find("--boot-disk") != std::string::npos);

    in.debconf.clear();
    in.debconf_gone.clear();
    auto only = choose_boot_disks(in);
    REQUIRE(only);
    CHECK(only->disks == std::vector<std::string>{"/dev/vdb"});
    in.boot_disks = {"/dev/vdb", "/dev/vdc"};  // /boot on an md mirror
    auto two = choose_boot_disks(in);
    REQUIRE_FALSE(two);
    CHECK(two.error().message().find("ambiguous") != std::string::npos);

    in.efi = true;
    auto efi = choose_boot_disks(in);
    REQUIRE(efi);
    CHECK(efi->install);
    CHECK(efi->disks.empty());
    in.explicit_disk = "/dev/vdb";
    CHECK_FALSE(choose_boot_disks(in));

    BootDiskInputs stayed;
    stayed.boot_disks = {"/dev/vdb", "/dev/vdc"};
    auto none = choose_boot_disks(stayed);
    REQUIRE(none);
    CHECK_FALSE(none->install);
}

TEST_CASE("persist: the plan of an LVM migration", "[persist]") {
    auto steps = plan_persist(lvm_migration());
    REQUIRE(steps);
    CHECK(names(*steps) == std::vector<std::string>{"fstab", "initramfs", "grub-config", "grub-install"});
    const PersistStep& fstab = (*steps)[0];
    CHECK(fstab.new_fstab.find(std::string("UUID=") + kNewUuid + " /               ext4") != std::string::npos);
    CHECK(fstab.fstab_backup == "/etc/fstab.offroot-20261202-030000");
    CHECK(fstab.command.argv.empty());
    CHECK((*steps)[1].command.argv == std::vector<std::string>{"update-initramfs", "-u", "-k", "all"});
    CHECK((*steps)[1].step.action.find("lvm") != std::string::npos);
    CHECK((*steps)[2].command.argv == std::vector<std::string>{"update-grub"});
    // grub-mkconfig names an LV by its path, not by UUID.
    CHECK((*steps)[2].step.action == "regenerate /boot/grub/grub.cfg: root=" + lvm_migration().root_device);
    CHECK((*steps)[3].command.argv == std::vector<std::string>{"grub-install", "/dev/vda"});
    CHECK((*steps)[3].hand == "grub-install /dev/vda");

    auto dracut = lvm_migration();
    dracut.generator = InitramfsGenerator::dracut;
    dracut.root_prefix = "/proc/1/root";
    auto d = plan_persist(dracut);
    REQUIRE(d);
    CHECK((*d)[1].command.argv == std::vector<std::string>{"dracut", "--regenerate-all", "-f"});
    CHECK((*d)[1].command.chroot_dir == "/proc/1/root");

    // Already persisted fstab, /boot of its own: only the rebuilds.
    auto again = lvm_migration();
    again.fstab_text = std::string("UUID=") + kNewUuid + " / ext4 defaults 0 1\n";
    again.boot.boot_moved = false;
    auto a = plan_persist(again);
    REQUIRE(a);
    CHECK((*a)[0].new_fstab.empty());
    CHECK((*a)[3].command.argv.empty());
    CHECK((*a)[3].step.action.find("not needed") != std::string::npos);

    // A path that names the running root today still becomes its UUID.
    auto by_path = lvm_migration();
    by_path.root_device = "/dev/null";
    by_path.fstab_text = std::string("/dev/null / ext4 errors=remount-ro 0 1\n");
    auto p = plan_persist(by_path);
    REQUIRE(p);
    CHECK((*p)[0].new_fstab == std::string("UUID=") + kNewUuid + " / ext4 errors=remount-ro 0 1\n");
}

TEST_CASE("persist: refusals before anything changes", "[persist]") {
    auto refused = [](PersistInputs in, const std::string& words) {
        auto r = plan_persist(in);
        REQUIRE_FALSE(r);
        INFO(r.error().message());
        CHECK(r.error().message().find(words) != std::string::npos);
        CHECK(r.error().message().find("nothing was changed") != std::string::npos);
    };
    auto no_lvm = lvm_migration();
    no_lvm.has_lvm = false;
    refused(no_lvm, "lvm2 is not installed");
    auto crypt = lvm_migration();
    crypt.stack_kinds = {"lvm", "crypt"};
    crypt.has_cryptsetup = true;
    refused(crypt, "cryptsetup-initramfs");
    auto md = lvm_migration();
    md.stack_kinds = {"raid1"};
    refused(md, "mdadm");
    auto none = lvm_migration();
    none.generator = InitramfsGenerator::none;
    refused(none, "no initramfs generator");
    auto copy = lvm_migration();
    copy.duplicate_uuid_devices = {"/dev/vda1"};
    refused(copy, "same filesystem UUID");
    auto no_grub = lvm_migration();
    no_grub.has_grub_install = false;
    refused(no_grub, "grub-install is not in the root");
    auto no_uuid = lvm_migration();
    no_uuid.root_id.uuid.clear();
    refused(no_uuid, "without a UUID");
}

TEST_CASE("persist: the return record", "[persist]") {
    auto r = parse_return_record(serialize(ReturnRecord{"/dev/vg0/root", "/dev/vda1"}));
    REQUIRE(r);
    CHECK(r->root_device == "/dev/vg0/root");
    CHECK(r->previous_root_device == "/dev/vda1");
    CHECK_FALSE(parse_return_record("previous_root_device=/dev/vda1\n"));
}

TEST_CASE("block lineage: an LV on a partition of one disk, a mirror of two", "[block_stack]") {
    test::TempDir sys("offroot-lineage");
    const std::string b = sys.path();
    auto put = [&](const std::string& path, const std::string& text) {
        fs::create_directories(fs::path(path).parent_path());
        std::ofstream(path) << text;
    };
    // Partitions link into their disk's directory, as sysfs has them.
    for (const char* disk : {"vdb", "vdc", "vdd"}) fs::create_directories(b + "/devices/" + disk + "/" + disk + "1");
    for (const char* disk : {"vdb", "vdc", "vdd"}) {
        const std::string part = std::string(disk) + "1";
        put(b + "/devices/" + disk + "/" + part + "/partition", "1\n");
        fs::create_directory_symlink("devices/" + std::string(disk) + "/" + part, b + "/" + part);
    }
    fs::create_directory_symlink("devices/vdb", b + "/vdb");
    put(b + "/dm-0/dm/uuid", "LVM-abc\n");
    fs::create_directories(b + "/dm-0/slaves/vdb1");
    put(b + "/md0/md/level", "raid1\n");
    fs::create_directories(b + "/md0/slaves/vdc1");
    fs::create_directories(b + "/md0/slaves/vdd1");
    put(b + "/dm-1/dm/uuid", "LVM-def\n");
    fs::create_directories(b + "/dm-1/slaves/md0");

    auto lv = read_lineage("dm-0", b);
    CHECK(lv.kinds == std::vector<std::string>{"lvm"});
    CHECK(lv.disks == std::vector<std::string>{"vdb"});
    auto mirrored = read_lineage("dm-1", b);
    CHECK(mirrored.kinds == std::vector<std::string>{"lvm", "raid1"});
    CHECK(mirrored.disks == std::vector<std::string>{"vdc", "vdd"});
    CHECK(mirrored.members == std::vector<std::string>{"md0", "vdc1", "vdd1"});
    auto disk = read_lineage("vdb", b);
    CHECK(disk.kinds.empty());
    CHECK(disk.disks == std::vector<std::string>{"vdb"});
}
