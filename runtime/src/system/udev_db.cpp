#include "system/udev_db.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/files.hpp"

namespace offroot {
namespace {

Status copy_tree(const std::string& from, const std::string& to, int depth) {
    if (depth > 8) return {};
    auto names = list_dir(from);
    if (!names) return names.error();
    if (auto s = make_dir(to, 0755); !s) return s;
    for (const auto& name : *names) {
        const std::string src = from + "/" + name, dst = to + "/" + name;
        auto st = lstat_path(src);
        if (!st) continue;  // gone meanwhile
        if (S_ISDIR(st->st_mode)) {
            if (auto s = copy_tree(src, dst, depth + 1); !s) return s;
        } else if (S_ISLNK(st->st_mode)) {
            auto target = read_link(src);
            if (!target) return target.error();
            if (::symlink(target->c_str(), dst.c_str()) != 0 && errno != EEXIST)
                return sys_error("symlink(" + quoted(*target) + ", " + quoted(dst) + ")");
        } else if (S_ISREG(st->st_mode)) {
            auto data = read_file(src);
            if (!data) return data.error();
            if (auto s = write_file(dst, *data, O_CREAT | O_TRUNC, st->st_mode & 07777); !s) return s;
        }
        // The control socket and anything else: udev makes its own.
    }
    return {};
}

}  // namespace

Status carry_udev_database(const std::string& from_run, const std::string& to_run) {
    const std::string from = from_run + "/udev";
    auto st = stat_path(from);
    if (!st || !S_ISDIR(st->st_mode)) return {};
    return copy_tree(from, to_run + "/udev", 0);
}

}  // namespace offroot
