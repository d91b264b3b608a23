#include "kernel/chroot_escape.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "base/files.hpp"

namespace offroot {
namespace {

// Any directory below "/" will do as the decoy root; these exist on every
// system we run on, and we create nothing on a root that may be read-only.
Result<std::string> pick_decoy_directory() {
    for (const char* candidate : {"/dev", "/proc", "/sys", "/etc", "/tmp", "/run"}) {
        struct stat st {};
        if (::lstat(candidate, &st) == 0 && S_ISDIR(st.st_mode)) return std::string(candidate);
    }
    auto names = list_dir("/");
    if (!names) return names.error();
    for (const auto& n : *names) {
        struct stat st {};
        std::string p = "/" + n;
        if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return p;
    }
    return plain_error("escaping the chroot: no directory below \"/\" to use as a decoy root");
}

}  // namespace

Result<struct stat> escape_chroot(const std::function<bool()>& stop_here) {
    auto old_root = open_path("/", O_RDONLY | O_DIRECTORY);
    if (!old_root) return old_root.error();
    auto decoy = pick_decoy_directory();
    if (!decoy) return decoy.error();

    if (::chroot(decoy->c_str()) != 0) return sys_error("chroot(" + quoted(*decoy) + ")");
    if (::fchdir(old_root->get()) != 0) return sys_error("fchdir(old root)");

    // Bounded: a real mount namespace is not 4096 levels deep.
    for (int i = 0; i < 4096; ++i) {
        struct stat here {}, up {};
        if (::stat(".", &here) != 0) return sys_error("stat(\".\")");
        if (::stat("..", &up) != 0) return sys_error("stat(\"..\")");
        if (same_inode(here, up) || (stop_here && stop_here())) {
            if (::chroot(".") != 0) return sys_error("chroot(\".\")");
            if (::chdir("/") != 0) return sys_error("chdir(\"/\")");
            return here;
        }
        if (::chdir("..") != 0) return sys_error("chdir(\"..\")");
    }
    return plain_error("escaping the chroot: no top directory after 4096 levels of \"..\"");
}

}  // namespace offroot
