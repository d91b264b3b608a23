#include "catch.hpp"

#include <filesystem>

#include <fcntl.h>

#include "base/files.hpp"
#include "kernel/block_device.hpp"
#include "system/fstab.hpp"
#include "test_support.hpp"

using namespace offroot;

TEST_CASE("fstab's root entry: the installer's, with comments, escapes and other entries", "[fstab]") {
    const char* installer =
        "# /etc/fstab: static file system information.\n"
        "#\n"
        "# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
        "/dev/mapper/vg0-root /               ext4    errors=remount-ro 0       1\n"
        "# /boot was on /dev/vda1 during installation\n"
        "UUID=0b9f5c1e-3a1e-4c38-9d51-6b1f2f0c8a11 /boot ext2 defaults 0 2\n"
        "/dev/mapper/vg0-swap_1 none            swap    sw              0       0\n";
    auto root = fstab_root_entry(installer);
    REQUIRE(root);
    CHECK(root->spec == "/dev/mapper/vg0-root");
    CHECK(root->type == "ext4");
    CHECK(root->options == "errors=remount-ro");

    auto btrfs = fstab_root_entry("UUID=5e3c1a2b-0000-4000-8000-000000000001\t/\tbtrfs\tdefaults,subvol=@rootfs\t0\t0\n");
    REQUIRE(btrfs);
    CHECK(btrfs->options == "defaults,subvol=@rootfs");
    CHECK_FALSE(fstab_root_entry("proc /proc proc defaults 0 0\n/dev/vdb /srv\\040data ext4 defaults 0 2\n"));
    CHECK_FALSE(fstab_root_entry(""));
}

TEST_CASE("an fstab spec names a filesystem by UUID, LABEL or path", "[fstab]") {
    FilesystemId id{"ext4", "0b9f5c1e-3a1e-4c38-9d51-6b1f2f0c8a11", "rootfs"};
    CHECK(fstab_spec_names("UUID=0b9f5c1e-3a1e-4c38-9d51-6b1f2f0c8a11", "/dev/null", id));
    CHECK(fstab_spec_names("UUID=0B9F5C1E-3A1E-4C38-9D51-6B1F2F0C8A11", "/dev/null", id));
    CHECK(fstab_spec_names("UUID=\"0b9f5c1e-3a1e-4c38-9d51-6b1f2f0c8a11\"", "/dev/null", id));
    CHECK_FALSE(fstab_spec_names("UUID=11111111-3a1e-4c38-9d51-6b1f2f0c8a11", "/dev/null", id));
    CHECK(fstab_spec_names("LABEL=rootfs", "/dev/null", id));
    CHECK_FALSE(fstab_spec_names("LABEL=other", "/dev/null", id));
    CHECK_FALSE(fstab_spec_names("/dev/does-not-exist", "/dev/null", id));
}

TEST_CASE("the UUID and label of ext4, xfs and btrfs superblocks, where blkid reads them", "[fstab][block_device]") {
    test::TempDir dir("offroot-sb");
    const unsigned char uuid[16] = {0x0b, 0x9f, 0x5c, 0x1e, 0x3a, 0x1e, 0x4c, 0x38,
                                    0x9d, 0x51, 0x6b, 0x1f, 0x2f, 0x0c, 0x8a, 0x11};
    struct Layout {
        const char* type;
        long magic_at;
        std::string magic;
        long uuid_at, label_at;
    };
    // The offsets of the on-disk formats (ext4 s_magic/s_uuid/s_volume_name;
    // xfs sb_magicnum/sb_uuid/sb_fname; btrfs magic/fsid/label at 64 KiB).
    for (const Layout& l : {Layout{"ext4", 1024 + 0x38, std::string("\x53\xef", 2), 1024 + 0x68, 1024 + 0x78},
                            Layout{"xfs", 0, "XFSB", 32, 108},
                            Layout{"btrfs", 0x10040, "_BHRfS_M", 0x10020, 0x1012b}}) {
        const std::string image = dir.path() + "/" + l.type + ".img";
        std::string bytes(0x11000, '\0');
        bytes.replace(static_cast<size_t>(l.magic_at), l.magic.size(), l.magic);
        bytes.replace(static_cast<size_t>(l.uuid_at), 16, reinterpret_cast<const char*>(uuid), 16);
        bytes.replace(static_cast<size_t>(l.label_at), 9, "offroot-t");
        REQUIRE(write_file(image, bytes, O_CREAT | O_TRUNC | O_WRONLY, 0600));
        auto id = probe_filesystem_id(image);
        REQUIRE(id);
        CHECK(id->type == l.type);
        CHECK(id->uuid == "0b9f5c1e-3a1e-4c38-9d51-6b1f2f0c8a11");
        CHECK(id->label == "offroot-t");
    }
}
