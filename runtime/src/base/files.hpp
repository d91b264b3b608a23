// Checked file primitives. Every failure names the call, its arguments and
// errno; every fd is owned and O_CLOEXEC.
#pragma once

#include <sys/stat.h>
#include <sys/statfs.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/fd.hpp"
#include "base/result.hpp"

namespace offroot {

Result<UniqueFd> open_path(const std::string& path, int flags, mode_t mode = 0);
Result<UniqueFd> open_at(int dirfd, const std::string& name, int flags, mode_t mode = 0);

// Reads a whole file, e.g. /proc/self/mountinfo (whose size stat reports as 0).
Result<std::string> read_file(const std::string& path);
Result<std::string> read_fd(int fd, const std::string& what);

// Reads a file and hands its text to `parse` (Result<T>(std::string_view)):
// read_parsed("/proc/swaps", parse_proc_swaps). A parse error is prefixed
// with the path; a read error already names it.
template <typename Parse>
auto read_parsed(const std::string& path, Parse parse) -> decltype(parse(std::string_view())) {
    auto text = read_file(path);
    if (!text) return text.error();
    auto parsed = parse(*text);
    if (!parsed) return parsed.error().context(path);
    return parsed;
}

Status write_file(const std::string& path, const std::string& data, int flags, mode_t mode);
// Written beside (PATH.new, never through a symlink there) and renamed over PATH: a reader, or a crash,
// never sees half of it.
Status replace_file(const std::string& path, const std::string& data, mode_t mode);

Result<std::string> read_link(const std::string& path);
Result<struct stat> stat_path(const std::string& path);
Result<struct stat> lstat_path(const std::string& path);
Result<struct statfs> statfs_path(const std::string& path);

// Names in a directory, without "." and "..", unsorted.
Result<std::vector<std::string>> list_dir(const std::string& path);
// The same for an open directory (left open and unmoved for the caller);
// `what` names it in errors.
Result<std::vector<std::string>> list_dir_fd(int dirfd, const std::string& what);

bool exists_nofollow(const std::string& path);
Status make_dir(const std::string& path, mode_t mode);  // EEXIST as a directory is fine

// Same inode on the same device: "is this the same directory?"
bool same_inode(const struct stat& a, const struct stat& b);

// Joins without doubling slashes: join("/", "root") == "/root".
std::string path_join(const std::string& dir, const std::string& name);

}  // namespace offroot
