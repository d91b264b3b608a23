#include "system/session_space.hpp"

#include <linux/magic.h>

#include "base/files.hpp"
#include "kernel/mount.hpp"

namespace offroot {
namespace {

SessionSpace read_one(const EmergencyEnvironment& env, const char* path) {
    SessionSpace space;
    space.path = path;
    const std::string here = in_rootfs(env, path);
    auto fs = statfs_path(here);
    if (!fs) return space;
    if (fs->f_type == static_cast<decltype(fs->f_type)>(TMPFS_MAGIC)) {
        space.fs_type = "tmpfs";
    } else if (fs->f_type == static_cast<decltype(fs->f_type)>(RAMFS_MAGIC)) {
        space.fs_type = "ramfs";
    } else {
        space.fs_type = "another filesystem";
    }
    auto own = is_mount_point(here);
    // A tmpfs mount of its own: the environment's tmpfs (offroot arm)
    // would share its cap with the tools, which does not count.
    space.capped = space.fs_type == "tmpfs" && own && *own;
    if (space.capped) {
        const uint64_t block = static_cast<uint64_t>(fs->f_bsize);
        space.size_kib = static_cast<uint64_t>(fs->f_blocks) * block / 1024;
        space.used_kib = static_cast<uint64_t>(fs->f_blocks - fs->f_bfree) * block / 1024;
    }
    return space;
}

}  // namespace

std::vector<SessionSpace> read_session_space(const EmergencyEnvironment& env) {
    return {read_one(env, kSessionTmp), read_one(env, kSessionHome)};
}

uint64_t session_room_kib(const std::vector<SessionSpace>& spaces) {
    uint64_t total = 0;
    for (const auto& s : spaces) total += s.room_kib();
    return total;
}

std::vector<std::string> uncapped_session_notes(const std::vector<SessionSpace>& spaces) {
    std::vector<std::string> notes;
    for (const auto& s : spaces) {
        if (s.capped) continue;
        // No apostrophe in check's lines: scripts quote them in '...'.
        notes.push_back("the emergency sessions have a " + s.path + " with no size cap of its own (" +
                        (s.fs_type.empty() ? std::string("unreadable") : s.fs_type) +
                        "): a copy into it can take the RAM DETACHED needs; an image built by this version of "
                        "offroot caps it (SESSION_TMP_SIZE, SESSION_HOME_SIZE in offroot.conf)");
    }
    return notes;
}

}  // namespace offroot
