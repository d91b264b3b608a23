#include "system/holders.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "base/files.hpp"
#include "base/json.hpp"
#include "kernel/block_stack.hpp"
#include "kernel/loop_devices.hpp"
#include "kernel/meminfo.hpp"
#include "kernel/mountinfo.hpp"
#include "kernel/network.hpp"
#include "kernel/processes.hpp"
#include "kernel/swaps.hpp"
#include "kernel/unix_sockets.hpp"
#include "system/sshd_watch.hpp"

namespace offroot {
namespace {

// "vda" for /dev/vda1 and for /dev/vda: the block device's disk, from sysfs.
std::string disk_of(dev_t dev) {
    auto link = read_link("/sys/dev/block/" + std::to_string(major(dev)) + ":" + std::to_string(minor(dev)));
    if (!link) return {};
    const std::string& p = *link;
    auto last = p.rfind('/');
    if (last == std::string::npos) return p;
    std::string name = p.substr(last + 1);
    const std::string sysdir = "/sys/dev/block/" + std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
    if (exists_nofollow(sysdir + "/partition")) {
        auto prev = p.rfind('/', last - 1);
        return p.substr(prev + 1, last - prev - 1);
    }
    return name;
}

bool is_network_or_fuse(const std::string& fs_type) {
    static const std::set<std::string> network = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs",
                                                  "9p", "afs", "sshfs"};
    return network.count(fs_type) || fs_type.rfind("fuse", 0) == 0;
}

ProcessRef ref(const Process& p) { return ProcessRef{p.stat.pid, p.stat.comm}; }

std::string kib_text(uint64_t kib) { return std::to_string((kib + 1023) / 1024) + " MiB"; }

// The admin's session must arrive over an interface that outlives enter:
// one a daemon on the disk makes (a VPN) goes with it.
void session_interface_check(const CheckOptions& options, CheckReport& r) {
    const std::string peer = ssh_connection_peer(std::getenv("SSH_CONNECTION"));
    if (peer.empty()) return;
    auto path = path_to(peer);
    if (!path) {
        r.notes.push_back("the route to the admin's address " + peer + " was not checked: " + path.error().message());
        return;
    }
    auto why = vanishing_interface_reason(*path);
    if (!why) return;
    const std::string text = "the admin's session (from " + peer + ") arrives over " + path->interface + ", " + *why +
                             ": enter would cut it";
    if (options.force_session_interface) {
        r.notes.push_back(text + " (forced: going ahead)");
    } else {
        r.blockers.push_back(text + "; connect over an interface of the provider's network instead (ssh -p 1022 to "
                             "the host's public address), or force it (--force-network) if this interface survives "
                             "the services stopping");
    }
}

// The tools for this host's disks and offroot.conf's TOOLS, found in the
// real root: what enter will bring into RAM, and what it will lack.
void plan_offline_tools(const RealRootView& real_root, bool from_rootfs, CheckReport& r) {
    ToolNeeds needs;
    needs.root_fs_type = r.root_fs_type;
    if (!r.root_fs_type.empty()) needs.fs_types.insert(r.root_fs_type);
    for (const auto& m : r.other_mounts)
        if (!m.network_or_fuse && m.fs_type != "tmpfs" && m.fs_type != "ramfs") needs.fs_types.insert(m.fs_type);
    if (auto stack = read_block_stack(); stack) {
        for (const auto& d : *stack) needs.stack_kinds.insert(d.kind);
    } else {
        r.notes.push_back("the storage stack was not read (" + stack.error().message() +
                          "): lvm, cryptsetup and mdadm are not brought into RAM");
    }
    const std::string conf = real_root.path(kConfPath);
    if (auto text = read_file(conf); text) {
        if (auto extra = conf_words(*text, "TOOLS"); extra) {
            needs.extra = *extra;
        } else {
            r.notes.push_back(conf + ": " + extra.error().message() + "; its TOOLS are not brought into RAM");
        }
    }
    std::string environment = "/";
    if (!from_rootfs && r.system.emergency) {
        environment = in_rootfs(*r.system.emergency, "");
        if (environment.empty()) environment = "/";
    }
    auto plan = plan_tools(real_root.root(), environment, tools_wanted(needs));
    if (!plan) {
        r.blockers.push_back("the tools for the offline work could not be looked up in the root filesystem: " +
                             plan.error().message() + "; enter would leave you without them");
        return;
    }
    r.tools = *plan;
    r.tools_kib = r.tools.ram_bytes() / 1024;
    for (const auto& w : r.tools.warnings) r.notes.push_back("tool: " + w);
    for (const auto& name : r.tools.missing_essential)
        r.blockers.push_back(name + " is not installed: return --fsck and the offline check of the root need it; "
                             "apt-get install e2fsprogs");
    // A tmpfs environment (offroot arm) has a size cap: the tools must fit.
    if (r.system.emergency && r.system.emergency->root_switch == RootSwitch::tmpfs && r.tools_kib > 0) {
        if (auto fs = statfs_path(environment); fs) {
            const uint64_t free_kib = static_cast<uint64_t>(fs->f_bavail) * static_cast<uint64_t>(fs->f_bsize) / 1024;
            if (free_kib < r.tools_kib)
                r.blockers.push_back("the tools need " + kib_text(r.tools_kib) + " in the emergency tmpfs, which has " +
                                     kib_text(free_kib) + " free: offroot disarm, then offroot arm with a larger "
                                     "OFFROOT_TMPFS_SIZE");
        }
    }
}

}  // namespace

std::vector<std::string> root_filesystem_blockers(const std::string& fs_type, const std::string& source) {
    if (is_network_or_fuse(fs_type))
        return {"the root filesystem is " + fs_type + " (" + source +
                "): it is not on a local disk, and the network that serves it must stay up; "
                "offroot frees local disks only"};
    if (fs_type == "zfs")
        return {"the root filesystem is zfs (" + source +
                "): its pool cannot be exported while the host runs from it, and offroot does not "
                "manage zfs; use the pool's own tools (zfs send/receive) or a rescue system"};
    return {};
}

Result<CheckReport> run_check(const CheckOptions& options) {
    CheckReport r;
    auto status = read_system_status();
    if (!status) return status.error();
    r.system = *status;

    // From rootfs (the 1022 session) the real root is on top of "/", one
    // ".." away, or PID 1's root (pivot, tmpfs); from a normal session it is
    // "/".
    const bool from_rootfs = r.system.emergency && r.system.emergency->we_run_in_rootfs;
    const RealRootView real_root = real_root_view(r.system);
    const RootSwitcher* switcher = r.system.emergency ? &r.system.emergency->switcher() : nullptr;
    r.root_mount_point = real_root.root();
    if (from_rootfs && !r.system.real_root_on_top) {
        r.blockers.push_back("the real root is not on top of rootfs (state " + to_string(r.system.state) +
                             "): nothing to check; `offroot status` says where it is");
        return r;
    }
    auto root_st = stat_path(r.root_mount_point);
    if (!root_st) return root_st.error();
    const dev_t root_dev = root_st->st_dev;

    auto table = MountTable::read(real_root.mountinfo);
    if (!table) return table.error();
    const MountEntry* root_mount = table->mount_of("/");
    if (root_mount != nullptr) {
        r.root_source = root_mount->source;
        r.root_fs_type = root_mount->fs_type;
        r.root_mount_root = root_mount->root;
    }
    r.root_disk = disk_of(root_dev);
    for (auto& b : root_filesystem_blockers(r.root_fs_type, r.root_source)) r.blockers.push_back(std::move(b));

    for (const MountEntry* m : table->unmount_order("/")) {
        if (m == root_mount || m->mount_point == "/") continue;
        if (m->dev() == root_dev) continue;  // a bind mount of the root itself
        // The emergency environment itself, mounted under the real root.
        if (switcher && switcher->is_environment_mount(m->mount_point)) continue;
        // Kernel interfaces: nobody needs to hear that they go away. tmpfs
        // is listed: its contents are lost when enter unmounts it.
        if (is_kernel_interface_fs(m->fs_type)) continue;
        r.other_mounts.push_back(OtherMount{m->mount_point, m->fs_type, m->source, is_network_or_fuse(m->fs_type)});
    }

    auto processes = scan_processes();
    if (!processes) return processes.error();
    const pid_t self = ::getpid();

    std::map<ino_t, std::vector<ProcessRef>> socket_owners;
    for (const auto& p : *processes) {
        if (p.kernel_thread || p.stat.pid == self) continue;
        for (const auto& f : p.files) {
            if (f.socket_inode) socket_owners[*f.socket_inode].push_back(ref(p));
            if (!f.id || f.id->dev != root_dev || !S_ISREG(f.mode)) continue;
            if (f.deleted || f.nlink == 0) r.deleted_files.push_back(HeldFile{ref(p), f.fd, f.path});
            if (f.open_for_writing()) r.written_files.push_back(HeldFile{ref(p), f.fd, f.path});
        }
        for (const auto& m : p.maps)
            if (m.dev == root_dev && m.deleted) r.deleted_files.push_back(HeldFile{ref(p), -1, m.path});
        if (uses_device(p, root_dev)) {
            r.processes_on_root.push_back(ref(p));
            // enter never kills what serves storage, and the root cannot be
            // unmounted under a process that runs from it.
            if (auto role = storage_daemon_role(p))
                r.blockers.push_back(p.stat.comm + " (pid " + std::to_string(p.stat.pid) + ") is " + *role +
                                     " and runs from the root filesystem: offroot must not stop it, and cannot "
                                     "unmount the root under it; free the disk from a rescue system instead");
        }
    }

    if (auto sockets = read_unix_sockets(); sockets) {
        std::set<std::string> seen;
        for (const auto& s : *sockets) {
            if (s.abstract || s.path.empty() || s.path[0] != '/') continue;
            const std::string path = real_root.path(s.path);
            auto st = stat_path(path);
            if (!st || st->st_dev != root_dev || !seen.insert(s.path).second) continue;
            auto owners = socket_owners.find(s.inode);
            r.unix_sockets.push_back(
                BoundSocket{s.path, owners == socket_owners.end() ? std::vector<ProcessRef>{} : owners->second});
        }
    } else {
        r.notes.push_back("unix sockets not checked: " + sockets.error().message());
    }

    uint64_t swap_used_kib = 0;
    if (auto swaps = read_swaps(); swaps) {
        for (const auto& s : *swaps) {
            // Every swap of a disk goes off: a swap partition or LV keeps
            // its disk (and the volume group) busy as surely as a mount does,
            // and a swap file is on a filesystem that enter unmounts. Only
            // swap that lives in RAM (zram) stays.
            if (s.filename.rfind("/dev/zram", 0) == 0) continue;
            r.swaps.push_back(SwapOnDisk{s.filename, s.used_kib});
            swap_used_kib += s.used_kib;
        }
    } else {
        r.notes.push_back("swap not checked: " + swaps.error().message());
    }

    if (auto loops = scan_loop_devices(); loops) {
        for (const auto& l : *loops) {
            // The kernel names the backing file from the real root; from
            // rootfs that path is one ".." up.
            std::optional<dev_t> dev;
            if (!from_rootfs && l.backing_id) dev = l.backing_id->dev;
            if (from_rootfs && !l.deleted)
                if (auto st = stat_path(real_root.path(l.backing_file)); st) dev = st->st_dev;
            if (dev && *dev == root_dev) r.loop_devices.push_back(l.device + " (" + l.backing_file + ")");
        }
    } else if (loops.error().err != ENOENT) {
        r.notes.push_back("loop devices not checked: " + loops.error().message());
    }

    plan_offline_tools(real_root, from_rootfs, r);

    auto mem = read_meminfo();
    if (!mem) return mem.error();
    r.available_kib = mem->available_kib;
    if (r.system.emergency) {
        r.session_space = read_session_space(*r.system.emergency);
        r.session_kib = session_room_kib(r.session_space);
        for (auto& n : uncapped_session_notes(r.session_space)) r.notes.push_back(std::move(n));
    }
    // What swapoff brings back into RAM, the tools, what the sessions may
    // still write into their capped /tmp and home, and room for the work.
    r.needed_kib = options.min_free_kib + swap_used_kib + r.tools_kib + r.session_kib;

    if (auto init = detect_running_init(); init) {
        r.init = *init;
        if (r.init.kind == InitSystem::unknown && !r.system.pid1_is_stub)
            r.blockers.push_back("PID 1 is " + quoted(r.init.binary) +
                                 ", an init offroot cannot re-execute into its stub (systemd and sysvinit are supported)");
    } else {
        r.blockers.push_back(init.error().message() + ": cannot tell which init system runs (run offroot as root)");
    }

    // Blockers: what would leave the admin without a way back.
    if (r.system.state == SystemState::no_emergency_environment) {
        r.blockers.push_back("no emergency environment: " + r.system.explanation +
                             "; run offroot arm (or update-initramfs -u and reboot once)");
    } else {
        if (r.system.state != SystemState::normal)
            r.blockers.push_back("the system is not in NORMAL state but " + to_string(r.system.state) + ": " +
                                 r.system.explanation);
        if (!r.system.emergency->dropbear)
            r.blockers.push_back("the emergency dropbear (port 1022) is not running: entering would leave no way in");
        // Not a blocker: once enter has made it PID 1, the stub starts the
        // watcher again. Until then nothing would start a dead dropbear.
        if (r.system.emergency->dropbear && !sshd_watch_running())
            r.notes.push_back("the watcher of the emergency dropbear (@offroot-watch) is not running: should dropbear die "
                              "now, nothing starts it again; offroot watch-sshd in the 1022 session starts it "
                              "(DETACHED, PID 1 does)");
        if (!exists_nofollow(in_rootfs(*r.system.emergency, kRootfsAuthorizedKeys)))
            r.blockers.push_back("no authorized keys in the emergency environment: add a key to "
                                 "/etc/offroot/authorized_keys, run update-initramfs -u and reboot");
    }
    session_interface_check(options, r);
    if (r.available_kib < r.needed_kib)
        r.blockers.push_back("not enough RAM: " + kib_text(r.available_kib) + " available, " + kib_text(r.needed_kib) +
                             " needed (" + kib_text(options.min_free_kib) + " to work" +
                             (swap_used_kib ? " + " + kib_text(swap_used_kib) + " of swap on the disk to take back" : "") +
                             (r.tools_kib ? " + " + kib_text(r.tools_kib) + " of tools" : "") +
                             (r.session_kib ? " + " + kib_text(r.session_kib) + " that the emergency sessions may still write to /tmp and home" : "") +
                             ")");
    for (const auto& m : r.other_mounts)
        if (m.network_or_fuse)
            r.notes.push_back(m.mount_point + " (" + m.fs_type + ") will be unmounted; its users are stopped first");
    if (!r.deleted_files.empty())
        r.notes.push_back(std::to_string(r.deleted_files.size()) +
                          " deleted files are still open: their space is freed when their processes stop");
    if (!r.written_files.empty())
        r.notes.push_back(std::to_string(r.written_files.size()) +
                          " files are open for writing: their services are stopped before the disk is unmounted");
    return r;
}

std::string format_check_human(const CheckReport& r) {
    std::string out;
    out += std::string("offroot check: ") + (r.go() ? "GO" : "NO-GO") + " (" + std::to_string(r.blockers.size()) +
           " blocker" + (r.blockers.size() == 1 ? "" : "s") + ")\n";
    out += "state: " + to_string(r.system.state) + "\n";
    out += "init system: " + to_string(r.init.kind) + (r.init.binary.empty() ? "" : " (" + r.init.binary + ")") +
           (r.init.reexec_command.empty() ? "" : ", re-executed with " + r.init.reexec_command) + "\n";
    out += "root filesystem: " + (r.root_source.empty() ? std::string("?") : r.root_source) + " (" + r.root_fs_type +
           ") on disk " + (r.root_disk.empty() ? std::string("?") : r.root_disk) + "\n";
    for (const auto& b : r.blockers) out += "BLOCKER: " + b + "\n";
    for (const auto& n : r.notes) out += "note: " + n + "\n";
    for (const auto& f : r.deleted_files)
        out += "deleted but open: " + f.path + " (pid " + std::to_string(f.process.pid) + " " + f.process.comm +
               (f.fd >= 0 ? ", fd " + std::to_string(f.fd) : std::string(", mapped")) + ")\n";
    for (const auto& f : r.written_files)
        out += "open for writing: " + f.path + " (pid " + std::to_string(f.process.pid) + " " + f.process.comm +
               ", fd " + std::to_string(f.fd) + ")\n";
    for (const auto& s : r.unix_sockets) {
        out += "unix socket bound on the root: " + s.path;
        for (const auto& h : s.holders) out += " (pid " + std::to_string(h.pid) + " " + h.comm + ")";
        out += "\n";
    }
    for (const auto& s : r.swaps) out += "swap on the disk: " + s.name + " (" + kib_text(s.used_kib) + " used)\n";
    for (const auto& l : r.loop_devices) out += "loop device backed by the root: " + l + "\n";
    for (const auto& m : r.other_mounts)
        out += "mounted under the root: " + m.mount_point + " (" + m.fs_type + " " + m.source + ")\n";
    out += "processes running from the disk: " + std::to_string(r.processes_on_root.size()) + "\n";
    if (!r.tools.commands.empty()) {
        out += "tools brought into RAM at enter (" + kib_text(r.tools_kib) + "):";
        for (const auto& c : r.tools.commands) out += " " + c.name;
        out += "\n";
    }
    for (const auto& sp : r.session_space)
        if (sp.capped)
            out += "emergency sessions, " + sp.path + ": " + kib_text(sp.size_kib) + " cap, " + kib_text(sp.used_kib) +
                   " used\n";
    out += "memory: " + kib_text(r.available_kib) + " available, " + kib_text(r.needed_kib) + " needed\n";
    return out;
}

std::string format_check_json(const CheckReport& r) {
    JsonWriter j;
    auto process = [&](const ProcessRef& p) { j.begin_object().key("pid").value(static_cast<int64_t>(p.pid)).key("comm").value(p.comm).end_object(); };
    auto files = [&](const char* name, const std::vector<HeldFile>& list) {
        j.key(name).begin_array();
        for (const auto& f : list) {
            j.begin_object().key("pid").value(static_cast<int64_t>(f.process.pid)).key("comm").value(f.process.comm);
            j.key("fd");
            if (f.fd >= 0) j.value(f.fd); else j.null();
            j.key("path").value(f.path).end_object();
        }
        j.end_array();
    };
    j.begin_object();
    j.key("go").value(r.go());
    j.key("state").value(to_string(r.system.state));
    j.key("init").begin_object().key("system").value(to_string(r.init.kind)).key("binary").value(r.init.binary)
        .key("reexec").value(r.init.reexec_command).end_object();
    j.key("root").begin_object().key("source").value(r.root_source).key("fs_type").value(r.root_fs_type)
        .key("disk").value(r.root_disk).end_object();
    j.key("blockers").begin_array();
    for (const auto& b : r.blockers) j.value(b);
    j.end_array();
    j.key("notes").begin_array();
    for (const auto& n : r.notes) j.value(n);
    j.end_array();
    files("deleted_files", r.deleted_files);
    files("written_files", r.written_files);
    j.key("unix_sockets").begin_array();
    for (const auto& s : r.unix_sockets) {
        j.begin_object().key("path").value(s.path).key("holders").begin_array();
        for (const auto& h : s.holders) process(h);
        j.end_array().end_object();
    }
    j.end_array();
    j.key("swaps").begin_array();
    for (const auto& s : r.swaps) j.begin_object().key("name").value(s.name).key("used_kib").value(s.used_kib).end_object();
    j.end_array();
    j.key("loop_devices").begin_array();
    for (const auto& l : r.loop_devices) j.value(l);
    j.end_array();
    j.key("other_mounts").begin_array();
    for (const auto& m : r.other_mounts)
        j.begin_object().key("mount_point").value(m.mount_point).key("fs_type").value(m.fs_type)
            .key("source").value(m.source).key("network_or_fuse").value(m.network_or_fuse).end_object();
    j.end_array();
    j.key("processes_on_root").begin_array();
    for (const auto& p : r.processes_on_root) process(p);
    j.end_array();
    j.key("memory").begin_object().key("available_kib").value(r.available_kib).key("needed_kib").value(r.needed_kib)
        .key("tools_kib").value(r.tools_kib).key("session_kib").value(r.session_kib).end_object();
    j.key("session_space").begin_array();
    for (const auto& sp : r.session_space)
        j.begin_object().key("path").value(sp.path).key("capped").value(sp.capped).key("size_kib").value(sp.size_kib)
            .key("used_kib").value(sp.used_kib).end_object();
    j.end_array();
    j.key("tools").begin_array();
    for (const auto& c : r.tools.commands)
        j.begin_object().key("name").value(c.name).key("source").value(c.source).key("for").value(c.why).end_object();
    j.end_array();
    j.end_object();
    return j.str() + "\n";
}

}  // namespace offroot
