#include "transitions/run_init.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "kernel/capabilities.hpp"
#include "system/emergency.hpp"
#include "base/files.hpp"
#include "kernel/kernel_cmdline.hpp"
#include "base/log.hpp"
#include "kernel/mount.hpp"
#include "switches/root_switch.hpp"
#include "system/rootfs.hpp"
#include "system/sshd_watch.hpp"
#include "base/undo.hpp"

namespace offroot {

Result<RunInitOptions> parse_run_init_args(const std::vector<std::string>& args) {
    RunInitOptions o;
    size_t i = 0;
    auto usage = [](const std::string& why) { return plain_error(why, kRunInitUsage); };
    // Options end at the first word that is not one (the new root), like
    // getopt with POSIXLY_CORRECT: init's own arguments may start with '-'.
    for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            ++i;
            break;
        }
        for (size_t k = 1; k < a.size(); ++k) {
            char flag = a[k];
            if (flag == 'n') {
                o.dry_run = true;
                continue;
            }
            if (flag != 'c' && flag != 'd') return usage("unknown option -" + std::string(1, flag));
            std::string value;
            if (k + 1 < a.size()) {
                value = a.substr(k + 1);
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                return usage("option -" + std::string(1, flag) + " needs a value");
            }
            (flag == 'c' ? o.console : o.drop_caps) = value;
            break;
        }
    }
    if (args.size() - i < 2) return usage("missing newroot or init");
    o.new_root = args[i];
    o.init = args[i + 1];
    o.init_args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 2, args.end());
    return o;
}

namespace {

// init may be an absolute symlink (/sbin/init -> /lib/systemd/systemd): it
// must be resolved inside the new root, so a child chroots there to look.
Status init_is_executable_in(const std::string& new_root, const std::string& init) {
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork()");
    if (child == 0) {
        if (::chroot(new_root.c_str()) != 0 || ::chdir("/") != 0) ::_exit(2);
        ::_exit(::access(init.c_str(), X_OK) == 0 ? 0 : 1);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return sys_error("waitpid(" + std::to_string(child) + ")");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
        return plain_error("cannot chroot into " + quoted(new_root) + " to look for init");
    return plain_error(quoted(init) + " is not an executable inside " + quoted(new_root));
}

struct SwitchPreconditions {
    struct stat new_root;
};

Result<SwitchPreconditions> check_preconditions(const RunInitOptions& o) {
    auto root = stat_path("/");
    if (!root) return root.error();
    auto new_root = stat_path(o.new_root);
    if (!new_root) return new_root.error();
    if (!S_ISDIR(new_root->st_mode)) return plain_error(quoted(o.new_root) + " is not a directory");
    if (new_root->st_dev == root->st_dev)
        return plain_error(quoted(o.new_root) + " is not a mount point (same filesystem as \"/\")",
                           "the root filesystem was not mounted");
    auto fs = statfs_path("/");
    if (!fs) return fs.error();
    if (!is_ram_filesystem(*fs))
        return plain_error("\"/\" is not a ramfs or tmpfs: refusing to switch away from a real filesystem");
    if (auto s = init_is_executable_in(o.new_root, o.init); !s) return s.error();
    return SwitchPreconditions{*new_root};
}

// What initramfs-tools' init and udev's init-bottom have moved into the new
// root by now; dropbear's sessions need them inside rootfs too. /dev comes
// with /dev/pts (recursive).
struct KernelFilesystem {
    const char* name;
    bool recursive;
};
constexpr KernelFilesystem kBoundIntoRootfs[] = {{"dev", true}, {"proc", false}, {"sys", false}, {"run", false}};

Status expose_kernel_filesystem(const std::string& new_root, const KernelFilesystem& kfs, UndoStack& undo) {
    const std::string source = path_join(new_root, kfs.name);
    const std::string target = std::string("/") + kfs.name;

    auto source_mounted = is_mount_point(source);
    if (!source_mounted || !*source_mounted) return {};  // never moved: nothing to give back
    if (auto target_st = lstat_path(target); target_st) {
        if (S_ISLNK(target_st->st_mode)) {
            // udev's init-bottom leaves "/dev -> /root/dev".
            auto link = read_link(target);
            if (!link) return link.error();
            if (::unlink(target.c_str()) != 0) return sys_error("unlink(" + quoted(target) + ")");
            undo.push("unlink " + target, [target, dest = *link]() -> Status {
                ::rmdir(target.c_str());
                if (::symlink(dest.c_str(), target.c_str()) != 0)
                    return sys_error("symlink(" + quoted(dest) + ", " + quoted(target) + ")");
                return {};
            });
        } else {
            auto target_mounted = is_mount_point(target);
            if (!target_mounted) return target_mounted.error();
            if (*target_mounted) return {};  // still there: nothing was moved away
        }
    }
    if (auto s = make_dir(target, 0755); !s) return s;
    if (auto s = bind_mount(source, target, kfs.recursive); !s) return s;
    undo.push("bind " + source + " on " + target, [target]() { return unmount(target, MNT_DETACH); });
    return {};
}

// A process started in the initramfs keeps rootfs as its root; if rootfs is
// deleted after all, the emergency dropbear must not linger on a port with
// no files behind it.
void stop_emergency_sshd(const std::string& new_root) {
    // Its watcher first, or it would start dropbear again.
    if (auto watcher = read_pidfile(path_join(new_root, kSshdWatchPidfile)); watcher && *watcher != 1) {
        auto comm = read_file(path_join(new_root, "proc/" + std::to_string(*watcher) + "/cmdline"));
        if (comm && comm->rfind(kSshdWatchName, 0) == 0 && ::kill(*watcher, SIGKILL) == 0)
            log_info("stopped the emergency dropbear's watcher (pid " + std::to_string(*watcher) + ")");
    }
    auto found = read_pidfile(path_join(new_root, kDropbearPidfile));
    if (!found || *found == 1) return;
    const pid_t pid = *found;
    auto comm = read_file(path_join(new_root, "proc/" + std::to_string(pid) + "/comm"));
    if (!comm || comm->rfind("dropbear", 0) != 0) return;
    if (::kill(pid, SIGTERM) == 0) log_info("stopped the emergency dropbear (pid " + std::to_string(pid) + ")");
}

Error exec_init(const RunInitOptions& o) {
    if (!o.console.empty()) {
        int fd = ::open(o.console.c_str(), O_RDWR | O_NOCTTY);
        if (fd < 0) return sys_error("open(" + quoted(o.console) + ")");
        ::dup2(fd, 0);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        if (fd > 2) ::close(fd);
    }
    if (!o.drop_caps.empty()) {
        auto caps = parse_capability_list(o.drop_caps);
        if (!caps) return caps.error();
        if (auto s = drop_capabilities(*caps); !s) return s.error();
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(o.init.c_str()));
    for (const auto& a : o.init_args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(o.init.c_str(), argv.data());
    return sys_error("execv(" + quoted(o.init) + ")");
}

// What the stock run-init does: delete rootfs, move the root onto "/",
// chroot into it.
Error classic_switch(const RunInitOptions& o) {
    stop_emergency_sshd(o.new_root);
    // The pivot switch's bind of rootfs for the sessions: nobody is left in it.
    if (auto bound = is_mount_point(kEmergencyRootDir); bound && *bound) (void)unmount(kEmergencyRootDir, MNT_DETACH);
    if (::chdir(o.new_root.c_str()) != 0) return sys_error("chdir(" + quoted(o.new_root) + ")");
    Manifest nothing;
    auto pruned = prune_tree("/", nothing);
    if (!pruned) return pruned.error();
    if (auto s = move_mount(".", "/"); !s) return s.error();
    if (::chroot(".") != 0) return sys_error("chroot(\".\")");
    if (::chdir("/") != 0) return sys_error("chdir(\"/\")");
    return exec_init(o);
}

// Keeps rootfs: prunes it and gives it /dev, /proc, /sys, /run. What it
// changed is pushed on `undo`, except the pruning, a subset of what the
// classic switch deletes anyway.
Status keep_rootfs(const RunInitOptions& o, UndoStack& undo) {
    auto manifest = Manifest::read(o.manifest_path);
    if (!manifest) return manifest.error();
    manifest->resolve_symlinks("/");
    auto pruned = prune_tree("/", *manifest);
    if (!pruned) return pruned.error();
    log_info("kept " + std::to_string(pruned->kept) + " and removed " + std::to_string(pruned->removed) +
             " entries of the initramfs (" + std::to_string(pruned->failures) + " could not be removed)");

    for (const auto& kfs : kBoundIntoRootfs) {
        if (auto s = expose_kernel_filesystem(o.new_root, kfs, undo); !s)
            return s.error().context(std::string("giving /") + kfs.name + " back to rootfs");
    }
    // MS_MOVE and pivot_root fail with EINVAL under a shared parent; the
    // initramfs mounts are private unless something changed that, so make
    // sure.
    if (auto s = make_private("/", true); !s) return s;
    return {};
}

// rootfs kept and the new root entered as the record says: on success our
// root is the new root and init can be executed.
Status keep_rootfs_and_switch(const RunInitOptions& o, const RootSwitcher& root_switch) {
    UndoStack undo;
    if (auto s = keep_rootfs(o, undo); !s) return s;
    if (auto s = root_switch.enter_real_root_at_boot(o.new_root); !s) return s;
    undo.commit();
    return {};
}

}  // namespace

Status validate_switch(const RunInitOptions& options) {
    auto pre = check_preconditions(options);
    if (!pre) return pre.error();
    return {};
}

std::string reason_not_to_keep(const RunInitOptions& o) {
    // initramfs-tools' init has moved /proc into the new root before it
    // calls run-init: rootfs has no /proc/cmdline of its own by then.
    auto cmdline = KernelCmdline::read(o.cmdline_path);
    if (!cmdline) {
        std::string in_new_root = o.cmdline_path;
        while (!in_new_root.empty() && in_new_root.front() == '/') in_new_root.erase(0, 1);
        in_new_root = path_join(o.new_root, in_new_root);
        auto moved = KernelCmdline::read(in_new_root);
        // offroot=off is the way out when keeping breaks a boot: if it
        // cannot be read, it cannot be ruled out.
        if (!moved)
            return "the kernel command line cannot be read, so offroot=off cannot be ruled out (" +
                   cmdline.error().message() + "; " + moved.error().message() + ")";
        cmdline = std::move(moved);
    }
    if (cmdline->offroot_disabled()) return "offroot=off on the kernel command line";
    auto manifest = Manifest::read(o.manifest_path);
    if (!manifest) return "no emergency environment in this initramfs (" + manifest.error().message() + ")";
    return {};
}

Error run_init(const RunInitOptions& o) {
    if (::getpid() != 1) return plain_error("run-init must run as PID 1 (use -n to only check)");
    auto pre = check_preconditions(o);
    if (!pre) return pre.error();

    if (std::string why = reason_not_to_keep(o); why.empty()) {
        const RootSwitcher& root_switch = switcher_for(read_root_switch(o.root_switch_path));
        Status kept = keep_rootfs_and_switch(o, root_switch);
        if (kept) return exec_init(o);
        log_error("keeping the emergency environment (" + to_string(root_switch.kind()) +
                  " switch) failed: " + kept.error().message() + "; booting without it, like the stock run-init");
    } else {
        log_info("emergency environment not kept: " + why);
    }
    return classic_switch(o);
}

}  // namespace offroot
