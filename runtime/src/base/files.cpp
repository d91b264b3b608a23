#include "base/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace offroot {

Result<UniqueFd> open_path(const std::string& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return sys_error("open(" + quoted(path) + ")");
    return UniqueFd(fd);
}

Result<UniqueFd> open_at(int dirfd, const std::string& name, int flags, mode_t mode) {
    int fd = ::openat(dirfd, name.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return sys_error("openat(" + std::to_string(dirfd) + ", " + quoted(name) + ")");
    return UniqueFd(fd);
}

Result<std::string> read_fd(int fd, const std::string& what) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read(" + quoted(what) + ")");
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Result<std::string> read_file(const std::string& path) {
    auto fd = open_path(path, O_RDONLY);
    if (!fd) return fd.error();
    return read_fd(fd->get(), path);
}

Status write_file(const std::string& path, const std::string& data, int flags, mode_t mode) {
    auto fd = open_path(path, O_WRONLY | flags, mode);
    if (!fd) return fd.error();
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd->get(), data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("write(" + quoted(path) + ")");
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

Status replace_file(const std::string& path, const std::string& data, mode_t mode) {
    const std::string tmp = path + ".new";
    if (auto s = write_file(tmp, data, O_CREAT | O_TRUNC | O_NOFOLLOW, mode); !s) return s;
    if (::rename(tmp.c_str(), path.c_str()) != 0) return sys_error("rename(" + quoted(tmp) + ", " + quoted(path) + ")");
    return {};
}

Result<std::string> read_link(const std::string& path) {
    std::string buf(256, '\0');
    for (;;) {
        ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
        if (n < 0) return sys_error("readlink(" + quoted(path) + ")");
        if (static_cast<size_t>(n) < buf.size()) {
            buf.resize(static_cast<size_t>(n));
            return buf;
        }
        buf.resize(buf.size() * 2);
    }
}

Result<struct stat> stat_path(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return sys_error("stat(" + quoted(path) + ")");
    return st;
}

Result<struct stat> lstat_path(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return sys_error("lstat(" + quoted(path) + ")");
    return st;
}

Result<struct statfs> statfs_path(const std::string& path) {
    struct statfs st {};
    if (::statfs(path.c_str(), &st) != 0) return sys_error("statfs(" + quoted(path) + ")");
    return st;
}

Result<std::vector<std::string>> list_dir_fd(int dirfd, const std::string& what) {
    // fdopendir takes over the fd it is given: give it a copy.
    int copy = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return sys_error("fcntl(" + quoted(what) + ", F_DUPFD_CLOEXEC)");
    DIR* dir = ::fdopendir(copy);
    if (dir == nullptr) {
        ::close(copy);
        return sys_error("fdopendir(" + quoted(what) + ")");
    }
    ::rewinddir(dir);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* d = ::readdir(dir)) {
        std::string name = d->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
        errno = 0;
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) return sys_error("readdir(" + quoted(what) + ")", err);
    return names;
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
    auto fd = open_path(path, O_RDONLY | O_DIRECTORY);
    if (!fd) return fd.error();
    return list_dir_fd(fd->get(), path);
}

bool exists_nofollow(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

Status make_dir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) == 0) return {};
    int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    char octal[16];
    std::snprintf(octal, sizeof octal, "0%o", static_cast<unsigned>(mode));
    return sys_error("mkdir(" + quoted(path) + ", " + octal + ")", err);
}

bool same_inode(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::string path_join(const std::string& dir, const std::string& name) {
    if (dir.empty()) return name;
    if (dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

}  // namespace offroot
