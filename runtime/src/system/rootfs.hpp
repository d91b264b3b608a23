// The kernel's rootfs (the ramfs/tmpfs the initramfs is unpacked into): what
// offroot keeps of it after boot, and what that costs in RAM.
#pragma once

#include <sys/statfs.h>
#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace offroot {

// Written by the initramfs hook: one absolute path a line, '#' comments.
// Inside rootfs this file also marks the emergency environment.
inline constexpr const char* kManifestPath = "/etc/offroot/manifest";

class Manifest {
public:
    static Result<Manifest> parse(std::string_view text);
    static Result<Manifest> read(const std::string& path);

    enum class Decision {
        keep,     // listed, or inside a listed directory
        descend,  // a directory on the way to something listed: keep it, prune inside
        remove,
    };
    Decision decide(const std::string& path) const;
    const std::set<std::string>& paths() const { return paths_; }

    // Adds, for each listed path, every symlink met on the way to it inside
    // `root` and the place it ends at: "/bin/sh" in an image whose /bin is a
    // symlink to usr/bin keeps "/bin" and "/usr/bin/sh". Symlinks resolve
    // against `root`, as they will for the processes that live there.
    void resolve_symlinks(const std::string& root);

private:
    std::set<std::string> paths_;
};

// "/a//b/" -> "/a/b"; "" when not absolute.
std::string normalize_absolute(std::string_view path);

bool is_ram_filesystem(const struct statfs& st);

// `dir` is the emergency environment's rootfs: a ramfs/tmpfs holding the
// manifest (the real root is neither).
bool is_kept_rootfs(const std::string& dir);

struct PruneStats {
    uint64_t removed = 0;
    uint64_t kept = 0;
    uint64_t skipped_mounts = 0;
    uint64_t failures = 0;  // logged one by one; a failure only costs RAM
};

// Removes everything under `root` that the manifest does not keep. Never
// crosses a mount point: an entry that is a mount root (or on another
// device) is left alone with all it holds.
Result<PruneStats> prune_tree(const std::string& root, const Manifest& manifest);

// Bytes allocated to the files of the tree at `root`, not crossing mounts.
// ramfs reports no usage through statfs, so the tree is walked.
Result<uint64_t> tree_usage_bytes(const std::string& root);

}  // namespace offroot
