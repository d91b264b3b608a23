#include "kernel/block_device.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/files.hpp"

namespace offroot {
namespace {

bool read_at(int fd, off_t offset, void* buf, size_t len) {
    return ::pread(fd, buf, len, offset) == static_cast<ssize_t>(len);
}

}  // namespace

Status check_block_device(const std::string& device) {
    auto st = stat_path(device);
    if (!st) return st.error().context("the root device");
    if (!S_ISBLK(st->st_mode)) return plain_error(quoted(device) + " is not a block device");
    return {};
}

Result<std::string> probe_filesystem(const std::string& device) {
    auto fd = open_path(device, O_RDONLY);
    if (!fd) return fd.error();
    unsigned char ext_magic[2];
    if (read_at(fd->get(), 1024 + 0x38, ext_magic, 2) && ext_magic[0] == 0x53 && ext_magic[1] == 0xEF) return std::string("ext4");
    char xfs[4];
    if (read_at(fd->get(), 0, xfs, 4) && std::memcmp(xfs, "XFSB", 4) == 0) return std::string("xfs");
    char btrfs[8];
    if (read_at(fd->get(), 0x10040, btrfs, 8) && std::memcmp(btrfs, "_BHRfS_M", 8) == 0) return std::string("btrfs");
    return plain_error(quoted(device) + " holds no filesystem offroot recognises (ext2/3/4, xfs, btrfs)",
                       "is it the right device? blkid shows what it holds");
}

std::string format_uuid(const unsigned char bytes[16]) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 0xf];
    }
    return out;
}

Result<FilesystemId> probe_filesystem_id(const std::string& device) {
    auto type = probe_filesystem(device);
    if (!type) return type.error();
    auto fd = open_path(device, O_RDONLY);
    if (!fd) return fd.error();
    // Where each superblock keeps its UUID and label.
    off_t uuid_at = 0, label_at = 0;
    size_t label_len = 0;
    if (*type == "ext4") {
        uuid_at = 1024 + 0x68, label_at = 1024 + 0x78, label_len = 16;
    } else if (*type == "xfs") {
        uuid_at = 32, label_at = 108, label_len = 12;
    } else {  // btrfs: the filesystem's fsid, not the device's uuid
        uuid_at = 0x10000 + 0x20, label_at = 0x10000 + 0x12b, label_len = 256;
    }
    FilesystemId id;
    id.type = *type;
    unsigned char uuid[16];
    if (!read_at(fd->get(), uuid_at, uuid, sizeof uuid)) return sys_error("pread(" + quoted(device) + ", uuid)");
    static const unsigned char zero[16] = {};
    if (std::memcmp(uuid, zero, 16) != 0) id.uuid = format_uuid(uuid);
    std::string label(label_len, '\0');
    if (!read_at(fd->get(), label_at, label.data(), label_len)) return sys_error("pread(" + quoted(device) + ", label)");
    id.label = label.c_str();
    return id;
}

Status check_device_free(const std::string& device) {
    int fd = ::open(device.c_str(), O_RDONLY | O_EXCL | O_CLOEXEC);
    if (fd < 0) {
        Error e = sys_error("open(" + quoted(device) + ", O_RDONLY|O_EXCL)");
        if (e.err == EBUSY) e.hint = "it is mounted or in use (device-mapper, md, another program)";
        return e;
    }
    ::close(fd);
    return {};
}

}  // namespace offroot
