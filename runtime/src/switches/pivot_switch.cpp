// The pivot and tmpfs switches: the emergency environment is an ordinary
// mount (rootfs on nullfs, or a tmpfs of its own), kept at
// /run/offroot/rootfs under the real root while NORMAL. enter pivots it in
// as the root of PID 1, the kernel threads and the services left, with the
// real root put at its /root; return pivots the root mounted there back
// in. The sessions live in their bind of the environment, which no pivot
// touches. The two differ only in where the environment comes from: the
// kernel's rootfs kept at boot, or a tmpfs filled by `offroot arm` or a
// boot without rootfs (dracut).
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/files.hpp"
#include "base/log.hpp"
#include "kernel/mount.hpp"
#include "kernel/mountinfo.hpp"
#include "kernel/pivot_root.hpp"
#include "switches/root_switch.hpp"

namespace offroot {
namespace {

// From the environment being PID 1's root with a root filesystem at its
// /root (after enter, or return's mount): makes that filesystem the root of
// PID 1 and of everything else that lives in the environment, and puts the
// environment at /run/offroot/rootfs under it. Its /run gets a tmpfs first
// if it has none (an enter that failed after unmounting it): the root may
// be read-only, /run must not be.
Status pivot_environment_under_real_root() {
    const std::string real_root = std::string(kPid1Root) + "/root";
    const std::string run = real_root + "/run";
    auto run_mounted = is_mount_point(run);
    if (!run_mounted) return run_mounted.error();
    if (!*run_mounted)
        if (auto s = mount_fs("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755"); !s)
            return s.error().context("a /run for the root to hold the emergency environment");
    if (auto s = make_dir(run + "/offroot", 0755); !s) return s;
    if (auto s = make_dir(real_root + kRootfsMountPoint, 0700); !s) return s;
    return pivot_root_as(kPid1Root, "/root", std::string(".") + kRootfsMountPoint);
}

// Makes `path` (in the environment) lead to the stub; what was there
// (busybox's init applet) is set aside, and all of it is undone on
// `undo`.
Status make_parents(const std::string& path, UndoStack& undo) {
    const auto slash = path.rfind('/');
    if (slash == 0 || slash == std::string::npos) return {};
    const std::string parent = path.substr(0, slash);
    if (exists_nofollow(parent) || stat_path(parent)) return {};
    if (auto s = make_parents(parent, undo); !s) return s;
    if (auto s = make_dir(parent, 0755); !s) return s;
    undo.push("mkdir " + parent, [parent]() -> Status {
        if (::rmdir(parent.c_str()) != 0) return sys_error("rmdir(" + quoted(parent) + ")");
        return {};
    });
    return {};
}

Status place_stub(const std::string& stub_path, const std::string& path, UndoStack& undo) {
    auto target = stat_path(stub_path);
    if (!target) return target.error();
    if (auto there = stat_path(path); there && same_inode(*there, *target)) return {};  // via a symlinked directory
    if (auto s = make_parents(path, undo); !s) return s;
    if (exists_nofollow(path)) {
        const std::string aside = path + ".offroot-aside";
        if (::rename(path.c_str(), aside.c_str()) != 0) return sys_error("rename(" + quoted(path) + ", " + quoted(aside) + ")");
        undo.push("set aside " + path, [path, aside]() -> Status {
            if (::rename(aside.c_str(), path.c_str()) != 0)
                return sys_error("rename(" + quoted(aside) + ", " + quoted(path) + ")");
            return {};
        });
    }
    if (::symlink(stub_path.c_str(), path.c_str()) != 0)
        return sys_error("symlink(" + quoted(stub_path) + ", " + quoted(path) + ")");
    undo.push("stub at " + path, [path]() -> Status {
        if (::unlink(path.c_str()) != 0) return sys_error("unlink(" + quoted(path) + ")");
        return {};
    });
    return {};
}

class PivotSwitcher : public RootSwitcher {
public:
    RootSwitch kind() const override { return RootSwitch::pivot; }
    std::string description() const override { return "pivot (pivot_root; rootfs sits on nullfs)"; }

    // The new root becomes the root of every process and kernel thread at
    // once, rootfs goes to /run/offroot/rootfs under it (the /run that init
    // has moved into the new root: a tmpfs, writable even when the root is
    // mounted read-only).
    Status enter_real_root_at_boot(const std::string& new_root) const override {
        UndoStack undo;
        const std::string run = path_join(new_root, "run");
        auto run_mounted = is_mount_point(run);
        if (!run_mounted) return run_mounted.error();
        if (!*run_mounted)
            return plain_error(quoted(run) + " is not a mount point: nowhere writable to put rootfs under the new root");
        const std::string put_old = path_join(new_root, kRootfsMountPoint);
        if (auto s = make_dir(path_join(run, "offroot"), 0755); !s) return s;
        if (auto s = make_dir(put_old, 0700); !s) return s;
        undo.push("mkdir " + put_old, [put_old]() -> Status {
            if (::rmdir(put_old.c_str()) != 0) return sys_error("rmdir(" + quoted(put_old) + ")");
            return {};
        });
        if (::chdir(new_root.c_str()) != 0) return sys_error("chdir(" + quoted(new_root) + ")");
        if (auto s = pivot_root_here(".", std::string(".") + kRootfsMountPoint); !s) {
            if (::chdir("/") != 0) log_warning("chdir(\"/\") after the failed pivot_root: " + std::string(strerror(errno)));
            return s;
        }
        undo.commit();
        if (::chroot(".") != 0) log_warning(sys_error("chroot(\".\") after pivot_root").message());
        if (::chdir("/") != 0) log_warning(sys_error("chdir(\"/\") after pivot_root").message());
        log_info("pivoted into " + new_root + "; the emergency environment stays at " + kRootfsMountPoint);
        return {};
    }

    RealRootView real_root_from_environment() const override { return {kPid1Root, "/proc/1/mountinfo"}; }
    std::string pid1_environment_prefix() const override { return kPid1Root; }
    std::string pid1_mountinfo() const override { return "/proc/1/mountinfo"; }
    bool is_environment_mount(const std::string& mount_point) const override {
        return path_is_under(mount_point, kRootfsMountPoint);
    }

    // pivot_root moves PID 1 with the rest: where it lives says which root
    // is in place. The environment is PID 1's root once DETACHED, else it is
    // mounted under the real root.
    RootPlacement locate(const std::string& environment, bool we_run_in_environment) const override {
        auto pid1_root = stat_path(kPid1Root);
        auto environment_root = stat_path(we_run_in_environment ? std::string("/") : environment + "/");
        const bool pid1_in_environment = pid1_root && environment_root && same_inode(*pid1_root, *environment_root);
        return {!pid1_in_environment,
                pid1_in_environment ? std::string(kPid1Root) : std::string(kPid1Root) + kRootfsMountPoint};
    }

    // The environment becomes everybody's root (PID 1, kernel threads, what
    // is left of the services), except our sessions, which live in a bind
    // of it; the real root goes to its /root. pivot_root refuses under a
    // shared parent, and systemd made every mount shared.
    Status put_real_root_aside(const RealRootView& real_root, UndoStack& undo) const override {
        if (auto s = make_private(real_root.root(), true); !s) return s.error().context("making the mounts private");
        if (auto s = make_dir("/root", 0700); !s) return s;
        if (auto s = pivot_root_as(real_root.root(), kRootfsMountPoint, "root"); !s)
            return s.error().context("pivoting into the emergency environment");
        undo.push("pivot-root-aside", []() { return pivot_environment_under_real_root(); });
        return {};
    }

    // PID 1 already lives in the environment and re-executes by the path
    // its binary has there: the stub is linked at each.
    Status lead_pid1_to_stub(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                             UndoStack& placement) const override {
        for (const auto& path : exec_paths)
            if (auto s = place_stub(stub_path, path, placement); !s)
                return s.error().context("putting the stub where PID 1 re-executes");
        return {};
    }

    Status remove_stub_placement(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                                 const std::string& who) const override {
        for (const auto& path : exec_paths) {
            if (auto link = read_link(path); link && *link == stub_path) {
                if (::unlink(path.c_str()) != 0) return sys_error("unlink(" + quoted(path) + ")");
                log_info(who + ": removed the link to the stub at " + path);
            }
            const std::string aside = path + ".offroot-aside";
            if (exists_nofollow(aside) && !exists_nofollow(path)) {
                if (::rename(aside.c_str(), path.c_str()) != 0)
                    return sys_error("rename(" + quoted(aside) + ", " + quoted(path) + ")");
                log_info(who + ": put " + path + " back from " + aside);
            }
        }
        return {};
    }

    Status put_real_root_back() const override { return pivot_environment_under_real_root(); }
    // After the pivot every leftover service has the environment as its
    // root too.
    bool leftovers_share_sessions_root() const override { return true; }

    // Every process of the environment but our sessions, PID 1 and the
    // kernel threads included, gets the root as its root in one step.
    Status put_root_in_place(UndoStack& undo) const override {
        if (auto s = pivot_environment_under_real_root(); !s) return s.error().context("pivoting into the root");
        undo.push("pivot-into-root", []() { return pivot_root_as(kPid1Root, kRootfsMountPoint, "root"); });
        return {};
    }

    std::vector<Step> enter_steps(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                                  const std::string& reexec) const override {
        std::string where;
        for (const auto& p : exec_paths) where += (where.empty() ? "" : ", ") + p;
        const std::string env = environment_name();
        return {
            {"pivot-root-aside",
             "make mounts private, then pivot_root into " + env + " (at /run/offroot/rootfs) with the real root put at " +
                 env + ":/root: PID 1, kernel threads and the services left get " + env +
                 " as their root; the sessions stay in their bind of it",
             "pivot_root back into the real root"},
            {"link-stub", "link " + stub_path + " in " + env + " where PID 1 re-executes (" + where +
                              "), setting aside what is there",
             "remove the links, put back what was set aside"},
            {"reexec-pid1", reexec, "pivot_root back and SIGUSR1 to the stub: the real init starts again"},
            {"unlink-stub", "remove the links, put back what was set aside", "none needed"},
        };
    }

    std::vector<Step> return_steps(const std::string& init_kind) const override {
        const std::string env = environment_name();
        return {
            {"pivot-into-root",
             "pivot_root into /root, " + env + " put at /run/offroot/rootfs under it: PID 1 and the kernel threads "
                 "get the root as their root; the sessions stay in their bind of " + env,
             "pivot_root back into " + env},
            {"signal-stub", "SIGUSR1 to PID 1: offroot-init, already in the root, execs the real init" + init_kind,
             "none: from here the real init boots userspace"},
        };
    }

protected:
    virtual std::string environment_name() const { return "rootfs"; }
};

class TmpfsSwitcher final : public PivotSwitcher {
public:
    RootSwitch kind() const override { return RootSwitch::tmpfs; }
    std::string description() const override {
        return "tmpfs (pivot_root; the emergency environment has a tmpfs of its own)";
    }
    // The environment is filled and mounted before the real root's init
    // runs, by `offroot arm` or the generator's own hook: nothing of it
    // is left to do when run-init enters the root.
    Status enter_real_root_at_boot(const std::string&) const override {
        return plain_error("the tmpfs switch is not made by run-init", "offroot arm makes it on a running system");
    }

protected:
    std::string environment_name() const override { return "the emergency tmpfs"; }
};

}  // namespace

const RootSwitcher& pivot_switcher() {
    static const PivotSwitcher instance;
    return instance;
}

const RootSwitcher& tmpfs_switcher() {
    static const TmpfsSwitcher instance;
    return instance;
}

}  // namespace offroot
