#include "kernel/mount.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "base/files.hpp"

namespace offroot {

std::string mount_flags_to_string(unsigned long flags) {
    static const std::pair<unsigned long, const char*> names[] = {
        {MS_RDONLY, "MS_RDONLY"},   {MS_NOSUID, "MS_NOSUID"},   {MS_NODEV, "MS_NODEV"},
        {MS_NOEXEC, "MS_NOEXEC"},   {MS_REMOUNT, "MS_REMOUNT"}, {MS_BIND, "MS_BIND"},
        {MS_MOVE, "MS_MOVE"},       {MS_REC, "MS_REC"},         {MS_PRIVATE, "MS_PRIVATE"},
        {MS_SLAVE, "MS_SLAVE"},     {MS_SHARED, "MS_SHARED"},   {MS_UNBINDABLE, "MS_UNBINDABLE"},
        {MS_RELATIME, "MS_RELATIME"},
    };
    std::string out;
    for (auto [bit, name] : names) {
        if ((flags & bit) == 0) continue;
        if (!out.empty()) out += '|';
        out += name;
        flags &= ~bit;
    }
    if (flags != 0) {
        if (!out.empty()) out += '|';
        out += "0x";
        char hex[32];
        std::snprintf(hex, sizeof hex, "%lx", flags);
        out += hex;
    }
    return out.empty() ? "0" : out;
}

namespace {

std::string nullable(const std::string& s) { return s.empty() ? "NULL" : quoted(s); }

Status checked_mount(const std::string& source, const std::string& target, const std::string& fs_type,
                     unsigned long flags, const std::string& data) {
    if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
                fs_type.empty() ? nullptr : fs_type.c_str(), flags, data.empty() ? nullptr : data.c_str()) != 0) {
        return sys_error("mount(" + nullable(source) + ", " + quoted(target) + ", " + nullable(fs_type) + ", " +
                         mount_flags_to_string(flags) + (data.empty() ? "" : ", " + quoted(data)) + ")");
    }
    return {};
}

}  // namespace

Status mount_fs(const std::string& source, const std::string& target, const std::string& fs_type,
                unsigned long flags, const std::string& data) {
    return checked_mount(source, target, fs_type, flags, data);
}

Status bind_mount(const std::string& source, const std::string& target, bool recursive) {
    return checked_mount(source, target, {}, MS_BIND | (recursive ? MS_REC : 0), {});
}

Status move_mount(const std::string& source, const std::string& target) {
    return checked_mount(source, target, {}, MS_MOVE, {});
}

Status make_private(const std::string& path, bool recursive) {
    return checked_mount({}, path, {}, MS_PRIVATE | (recursive ? MS_REC : 0), {});
}

Status unmount(const std::string& target, int flags) {
    if (::umount2(target.c_str(), flags) != 0) {
        std::string f = flags == 0 ? "0" : "";
        if (flags & MNT_DETACH) f += "MNT_DETACH";
        if (flags & MNT_FORCE) f += std::string(f.empty() ? "" : "|") + "MNT_FORCE";
        return sys_error("umount2(" + quoted(target) + ", " + f + ")");
    }
    return {};
}

Result<bool> is_mount_point(const std::string& path) {
    struct statx stx {};
    if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0)
        return sys_error("statx(" + quoted(path) + ")");
    if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    // Kernels before 5.8: a different device than the parent directory.
    auto self = lstat_path(path);
    if (!self) return self.error();
    auto parent = stat_path(path_join(path, ".."));
    if (!parent) return parent.error();
    return self->st_dev != parent->st_dev || self->st_ino == parent->st_ino;
}

}  // namespace offroot
