// The mount table as the kernel reports it in /proc/<pid>/mountinfo.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct MountEntry {
    int id = 0;
    int parent_id = 0;
    unsigned major = 0;
    unsigned minor = 0;
    std::string root;         // path of the mount's root within its filesystem
    std::string mount_point;  // unescaped (\040 -> ' ', \012 -> '\n', ...)
    std::string mount_options;
    // Propagation (optional fields): 0 when absent.
    int shared_peer_group = 0;
    int master_peer_group = 0;
    int propagate_from = 0;
    bool unbindable = false;
    std::string fs_type;
    std::string source;
    std::string super_options;

    dev_t dev() const;
    bool is_shared() const { return shared_peer_group != 0; }
    bool is_slave() const { return master_peer_group != 0; }
    bool is_private() const { return !is_shared() && !is_slave() && !unbindable; }
    bool read_only() const;  // per-mount "ro"
};

// "\040" and friends, as the kernel's seq_escape writes them.
std::string unescape_octal(std::string_view field);

Result<MountEntry> parse_mountinfo_line(std::string_view line);

class MountTable {
public:
    MountTable() = default;
    explicit MountTable(std::vector<MountEntry> entries) : entries_(std::move(entries)) {}

    static Result<MountTable> parse(std::string_view text);
    static Result<MountTable> read(const std::string& path = "/proc/self/mountinfo");

    const std::vector<MountEntry>& entries() const { return entries_; }
    const MountEntry* by_id(int id) const;
    const MountEntry* parent_of(const MountEntry& m) const;

    // The mount that serves `path` (already canonical, absolute): the one
    // with the longest mount point that is a prefix of it, and the topmost
    // one where several are stacked on the same mount point.
    const MountEntry* mount_of(const std::string& path) const;

    // Mounts whose mount point is `path` or lies beneath it (topmost and
    // covered ones alike), in table order.
    std::vector<const MountEntry*> mounts_under(const std::string& path) const;

    // Mounts with this device number (every bind mount of one filesystem).
    std::vector<const MountEntry*> mounts_of_device(dev_t dev) const;

    // Children before parents: deepest mount point first; on one mount
    // point, the mount stacked on top first. Not reverse table order: at
    // boot /run, /proc and /sys are mounted before the root and moved into
    // it, so they precede it in the table.
    std::vector<const MountEntry*> unmount_order(const std::string& path) const;

private:
    std::vector<MountEntry> entries_;
};

// Filesystems that are kernel interfaces (proc, sysfs, devpts, cgroup...):
// nothing of a disk is in them. tmpfs and ramfs are not among them: what
// they hold is lost when they go.
bool is_kernel_interface_fs(const std::string& fs_type);

// "/a/b" is under "/a" and under "/"; "/ab" is not under "/a".
bool path_is_under(const std::string& path, const std::string& top);
// Number of components: "/" -> 0, "/a/b" -> 2.
size_t path_depth(const std::string& path);

}  // namespace offroot
