// The move switch: rootfs is the namespace's root mount and stays so. The
// real root is moved on top of it and entered with chroot; from rootfs it
// is one ".." away. enter moves it back down to rootfs:/root and PID 1,
// re-executed into the stub bound over its binary, escapes its chroot
// (init_stub.cpp); return moves the root on top again and the stub enters
// it through "/..".
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/files.hpp"
#include "base/log.hpp"
#include "kernel/mount.hpp"
#include "switches/root_switch.hpp"

namespace offroot {
namespace {

class MoveSwitcher final : public RootSwitcher {
public:
    RootSwitch kind() const override { return RootSwitch::move; }
    std::string description() const override { return "move (mount --move and chroot)"; }

    // The new root on top of rootfs, entered through "/.."; a descriptor
    // taken before the move is the way in should "/.." not lead there.
    Status enter_real_root_at_boot(const std::string& new_root) const override {
        auto new_root_fd = open_path(new_root, O_RDONLY | O_DIRECTORY);
        if (!new_root_fd) return new_root_fd.error();
        auto new_root_st = stat_path(new_root);
        if (!new_root_st) return new_root_st.error();
        if (::chdir(new_root.c_str()) != 0) return sys_error("chdir(" + quoted(new_root) + ")");
        if (auto s = move_mount(new_root, "/"); !s) {
            if (::chdir("/") != 0) log_warning("chdir(\"/\") after the failed move: " + std::string(strerror(errno)));
            return s;
        }
        auto entered = [&]() {
            auto now = stat_path("/");
            return now && same_inode(*now, *new_root_st);
        };
        if (::chroot("/..") != 0 || ::chdir("/") != 0 || !entered()) {
            log_warning("\"/..\" did not lead into the new root; entering it through a descriptor opened before the move");
            if (::fchdir(new_root_fd->get()) != 0) return sys_error("fchdir(new root)");
            if (::chroot(".") != 0) return sys_error("chroot(\".\")");
            if (::chdir("/") != 0) return sys_error("chdir(\"/\")");
            if (!entered()) return plain_error("after moving the root onto \"/\", neither \"/..\" nor \".\" is the new root");
        }
        return {};
    }

    RealRootView real_root_from_environment() const override { return {"/..", "/proc/self/mountinfo"}; }
    std::string pid1_environment_prefix() const override { return ""; }
    std::string pid1_mountinfo() const override { return "/proc/self/mountinfo"; }
    bool is_environment_mount(const std::string&) const override { return false; }

    RootPlacement locate(const std::string& environment, bool we_run_in_environment) const override {
        // From rootfs the real root is what "/.." leads to; from the real
        // root, whether it is still on top of rootfs is what rootfs' own
        // "/.." tells.
        const std::string base = we_run_in_environment ? "" : environment;
        auto here = stat_path(base + "/");
        auto above = stat_path(base + "/..");
        return {here && above && !same_inode(*here, *above), base};
    }

    Status put_real_root_aside(const RealRootView&, UndoStack& undo) const override {
        // systemd made every mount shared; MS_MOVE refuses to move a mount
        // out of a shared parent.
        if (auto s = make_private("/", true); !s) return s.error().context("making the mounts private");
        if (auto s = make_dir("/root", 0700); !s) return s;
        if (auto s = move_mount("/..", "/root"); !s) return s.error().context("moving the real root aside");
        undo.push("move-root-aside", []() { return move_mount("/root", "/"); });
        return {};
    }

    // PID 1 still lives in the real root, now at rootfs:/root: the stub is
    // bound over the binary it re-executes.
    Status lead_pid1_to_stub(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                             UndoStack& placement) const override {
        if (exec_paths.empty()) return plain_error("no binary known for PID 1");
        const std::string target = "/root" + exec_paths.front();
        if (auto s = bind_mount(stub_path, target, false); !s) return s.error().context("binding the stub over init");
        placement.push("bind-stub", [target]() { return unmount(target, MNT_DETACH); });
        return {};
    }

    Status remove_stub_placement(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                                 const std::string& who) const override {
        if (exec_paths.empty()) return {};
        auto stub = stat_path(stub_path);
        if (!stub) return stub.error().context("finding the stub");
        const std::string target = "/root" + exec_paths.front();
        auto mounted = is_mount_point(target);
        auto there = stat_path(target);
        if (!mounted || !*mounted || !there || !same_inode(*there, *stub)) return {};
        if (auto s = unmount(target, MNT_DETACH); !s) return s.error().context("removing the bind of the stub");
        log_info(who + ": removed the bind of the stub over " + target);
        return {};
    }

    Status put_real_root_back() const override { return move_mount("/root", "/"); }
    bool leftovers_share_sessions_root() const override { return false; }

    Status put_root_in_place(UndoStack& undo) const override {
        if (auto s = move_mount("/root", "/"); !s) return s.error().context("moving the root onto /");
        undo.push("move-root-on-top", []() { return move_mount("/..", "/root"); });
        return {};
    }

    std::vector<Step> enter_steps(const std::vector<std::string>& exec_paths, const std::string& stub_path,
                                  const std::string& reexec) const override {
        const std::string binary = exec_paths.empty() ? std::string("PID 1's binary") : exec_paths.front();
        return {
            {"move-root-aside", "make mounts private, then mount --move /.. /root inside rootfs",
             "mount --move /root back onto /"},
            {"bind-stub", "bind " + stub_path + " over " + binary, "unmount the bind"},
            {"reexec-pid1", reexec, "SIGUSR1 to the stub once the root is back on top of /: the real init starts again"},
            {"unbind-stub", "lazily unmount the bind over " + binary, "none needed"},
        };
    }

    std::vector<Step> return_steps(const std::string& init_kind) const override {
        return {
            {"move-root-on-top", "mount --move /root /", "mount --move /.. /root"},
            {"signal-stub", "SIGUSR1 to PID 1: offroot-init enters /.. and execs the real init" + init_kind,
             "none: from here the real init boots userspace"},
        };
    }
};

}  // namespace

const RootSwitcher& move_switcher() {
    static const MoveSwitcher instance;
    return instance;
}

}  // namespace offroot
