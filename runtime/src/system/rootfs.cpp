#include "system/rootfs.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "base/files.hpp"
#include "base/log.hpp"
#include "base/text.hpp"

namespace offroot {

std::string normalize_absolute(std::string_view path) {
    if (path.empty() || path[0] != '/') return {};
    std::string out;
    size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/') ++i;
        size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) {
            out += '/';
            out.append(path.substr(i, j - i));
        }
        i = j;
    }
    return out.empty() ? "/" : out;
}

Result<Manifest> Manifest::parse(std::string_view text) {
    Manifest m;
    int line_number = 0;
    for (std::string_view line : split_lines(text)) {
        ++line_number;
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
            line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.empty() || line[0] == '#') continue;
        std::string path = normalize_absolute(line);
        if (path.empty())
            return plain_error("manifest line " + std::to_string(line_number) + ": not an absolute path: " +
                               quoted(std::string(line)));
        if (path == "/")
            return plain_error("manifest line " + std::to_string(line_number) + ": \"/\" would keep everything");
        m.paths_.insert(std::move(path));
    }
    // The manifest marks the emergency environment: it must survive itself.
    m.paths_.insert(kManifestPath);
    return m;
}

Result<Manifest> Manifest::read(const std::string& path) {
    return read_parsed(path, parse);
}

Manifest::Decision Manifest::decide(const std::string& path) const {
    // A listed path, or any ancestor of it listed: keep the whole subtree.
    for (std::string p = path; !p.empty() && p != "/";) {
        if (paths_.count(p)) return Decision::keep;
        p = p.substr(0, p.rfind('/'));
    }
    // An ancestor of a listed path: the first listed path not before
    // "path/" in order tells.
    const std::string prefix = path == "/" ? "/" : path + "/";
    auto it = paths_.lower_bound(prefix);
    if (it != paths_.end() && it->compare(0, prefix.size(), prefix) == 0) return Decision::descend;
    return Decision::remove;
}

namespace {

// "/a/./b/../c" -> "/a/c", lexically: inside rootfs nothing above "/".
std::string collapse_dots(const std::string& path) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        std::string part = path.substr(i, j - i);
        if (part == "..") {
            if (!parts.empty()) parts.pop_back();
        } else if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
        i = j + 1;
    }
    std::string out;
    for (const auto& p : parts) out += "/" + p;
    return out.empty() ? "/" : out;
}

}  // namespace

void Manifest::resolve_symlinks(const std::string& root) {
    std::set<std::string> found;
    for (const auto& listed : paths_) {
        std::string path = listed;
        // Bounded like the kernel's own symlink resolution (40 links).
        for (int hops = 0; hops < 40; ++hops) {
            std::string walked;
            bool redirected = false;
            size_t i = 1;
            while (i <= path.size()) {
                size_t j = path.find('/', i);
                if (j == std::string::npos) j = path.size();
                walked += "/" + path.substr(i, j - i);
                const std::string rest = j < path.size() ? path.substr(j) : std::string();
                i = j + 1;
                struct stat st {};
                if (::lstat((root + walked).c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
                auto target = read_link(root + walked);
                if (!target) break;
                found.insert(walked);
                const std::string parent = walked.substr(0, walked.rfind('/'));
                path = collapse_dots(((*target)[0] == '/' ? *target : parent + "/" + *target) + rest);
                redirected = true;
                break;
            }
            if (!redirected) {
                found.insert(path);
                break;
            }
        }
    }
    for (auto& p : found)
        if (p != "/") paths_.insert(p);
}

bool is_kept_rootfs(const std::string& dir) {
    auto fs = statfs_path(dir);
    return fs && is_ram_filesystem(*fs) && exists_nofollow(dir == "/" ? std::string(kManifestPath) : dir + kManifestPath);
}

bool is_ram_filesystem(const struct statfs& st) {
    return st.f_type == static_cast<decltype(st.f_type)>(RAMFS_MAGIC) ||
           st.f_type == static_cast<decltype(st.f_type)>(TMPFS_MAGIC);
}

namespace {

struct EntryInfo {
    struct statx stx;
    bool mount_root;
};

Result<EntryInfo> stat_entry(int dirfd, const std::string& name, const std::string& full) {
    EntryInfo info{};
    if (::statx(dirfd, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &info.stx) != 0)
        return sys_error("statx(" + quoted(full) + ")");
    info.mount_root = (info.stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                      (info.stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    return info;
}

bool crosses_mount(const EntryInfo& info, dev_t dev) {
    return info.mount_root || makedev(info.stx.stx_dev_major, info.stx.stx_dev_minor) != dev;
}

void note_failure(PruneStats& stats, const Error& e) {
    ++stats.failures;
    log_warning("pruning rootfs: " + e.message());
}

void remove_tree(int dirfd, const std::string& name, const std::string& full, dev_t dev, PruneStats& stats) {
    auto info = stat_entry(dirfd, name, full);
    if (!info) return note_failure(stats, info.error());
    if (crosses_mount(*info, dev)) {
        ++stats.skipped_mounts;
        return;
    }
    if (S_ISDIR(info->stx.stx_mode)) {
        auto sub = open_at(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!sub) return note_failure(stats, sub.error());
        auto names = list_dir_fd(sub->get(), full);
        if (!names) return note_failure(stats, names.error());
        for (const auto& n : *names) remove_tree(sub->get(), n, path_join(full, n), dev, stats);
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
            // A mount point in another mount of this filesystem (the pivot
            // switch's bind of rootfs mounts /dev, /proc... on the same
            // directories): not ours to remove, and empty by now.
            if (errno == EBUSY) {
                ++stats.skipped_mounts;
                return;
            }
            return note_failure(stats, sys_error("unlinkat(" + quoted(full) + ", AT_REMOVEDIR)"));
        }
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0) {
        return note_failure(stats, sys_error("unlinkat(" + quoted(full) + ")"));
    }
    ++stats.removed;
}

void prune_dir(int dirfd, const std::string& path, dev_t dev, const Manifest& manifest, PruneStats& stats) {
    auto names = list_dir_fd(dirfd, path);
    if (!names) return note_failure(stats, names.error());
    for (const auto& name : *names) {
        const std::string full = path_join(path, name);
        auto info = stat_entry(dirfd, name, full);
        if (!info) {
            note_failure(stats, info.error());
            continue;
        }
        if (crosses_mount(*info, dev)) {
            ++stats.skipped_mounts;
            continue;
        }
        switch (manifest.decide(full)) {
            case Manifest::Decision::keep: ++stats.kept; break;
            case Manifest::Decision::descend:
                ++stats.kept;
                if (S_ISDIR(info->stx.stx_mode)) {
                    auto sub = open_at(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                    if (!sub) {
                        note_failure(stats, sub.error());
                        break;
                    }
                    prune_dir(sub->get(), full, dev, manifest, stats);
                }
                break;
            case Manifest::Decision::remove: remove_tree(dirfd, name, full, dev, stats); break;
        }
    }
}

// `seen` holds the inodes already counted: busybox's applets are hundreds
// of hard links to one file.
uint64_t usage_of(int dirfd, const std::string& path, dev_t dev, std::set<uint64_t>& seen) {
    uint64_t total = 0;
    auto names = list_dir_fd(dirfd, path);
    if (!names) return 0;
    for (const auto& name : *names) {
        const std::string full = path_join(path, name);
        auto info = stat_entry(dirfd, name, full);
        if (!info || crosses_mount(*info, dev)) continue;
        if (info->stx.stx_nlink > 1 && !S_ISDIR(info->stx.stx_mode) && !seen.insert(info->stx.stx_ino).second) continue;
        // ramfs keeps no block count; it holds whole pages of each file.
        const uint64_t pages = (info->stx.stx_size + 4095) / 4096 * 4096;
        total += std::max<uint64_t>(info->stx.stx_blocks * 512, S_ISREG(info->stx.stx_mode) ? pages : 0);
        if (S_ISDIR(info->stx.stx_mode)) {
            auto sub = open_at(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            if (sub) total += usage_of(sub->get(), full, dev, seen);
        }
    }
    return total;
}

}  // namespace

Result<PruneStats> prune_tree(const std::string& root, const Manifest& manifest) {
    auto fd = open_path(root, O_RDONLY | O_DIRECTORY);
    if (!fd) return fd.error();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return sys_error("fstat(" + quoted(root) + ")");
    PruneStats stats;
    // Paths in the manifest are absolute within the tree: walk it as "/".
    prune_dir(fd->get(), "/", st.st_dev, manifest, stats);
    return stats;
}

Result<uint64_t> tree_usage_bytes(const std::string& root) {
    auto fd = open_path(root, O_RDONLY | O_DIRECTORY);
    if (!fd) return fd.error();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return sys_error("fstat(" + quoted(root) + ")");
    std::set<uint64_t> seen;
    return static_cast<uint64_t>(st.st_blocks) * 512 + usage_of(fd->get(), "/", st.st_dev, seen);
}

}  // namespace offroot
