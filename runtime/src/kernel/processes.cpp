#include "kernel/processes.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <tuple>

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

// Not exported by any userspace header: include/linux/sched.h.
constexpr unsigned long PF_KTHREAD = 0x00200000;

constexpr std::string_view kDeletedSuffix = " (deleted)";

// Blanks between the fields of stat and maps; stat ends with a newline.
constexpr std::string_view kBlanks = " \t\n";

std::string_view trim(std::string_view s) {
    while (!s.empty() && kBlanks.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
    while (!s.empty() && kBlanks.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
    return s;
}

// Takes the next blank-separated token off the front of `s`.
std::string_view next_token(std::string_view& s) { return next_field(s, kBlanks); }

// Strips the suffix d_path() appends to unlinked files; true when present.
bool strip_deleted(std::string& path) {
    if (path.size() < kDeletedSuffix.size() || !path.ends_with(kDeletedSuffix)) return false;
    path.resize(path.size() - kDeletedSuffix.size());
    return true;
}

// The kernel escapes only '\n' in maps paths (seq_file_path(m, file, "\n")):
// any other backslash is literal, so a general \ooo unescape would corrupt
// names that contain one.
std::string unescape_newlines(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s.substr(i, 4) == "\\012") {
            out += '\n';
            i += 3;
            continue;
        }
        out += s[i];
    }
    return out;
}

// The process exited (or the fd was closed) between listing and reading.
bool vanished(int err) { return err == ENOENT || err == ESRCH; }

// Failures that say "this entry is gone or not ours to see", not "/proc is
// broken": a zombie has no exe, a process of another user hides its fds.
bool tolerated(int err) { return vanished(err) || err == EACCES || err == EPERM; }

template <typename T>
Result<std::optional<T>> optional_entry(Result<T> r) {
    if (r) return std::optional<T>(std::move(r).value());
    if (tolerated(r.error().err)) return std::optional<T>();
    return r.error();
}

FileId file_id(const struct stat& st) { return FileId{st.st_dev, st.st_ino}; }

// stat() through a magic link reaches the target's filesystem, which may be
// a dead FUSE or NFS mount (ENOTCONN, EIO): the identity is then unknown,
// but the path from readlink still tells the caller what is held.
std::optional<FileId> stat_id(const std::string& path) {
    auto st = stat_path(path);
    if (!st) return std::nullopt;
    return file_id(*st);
}

Result<std::optional<std::string>> read_optional_link(const std::string& path) {
    return optional_entry(read_link(path));
}

Status read_files(const std::string& dir, Process& p) {
    auto names = optional_entry(list_dir(path_join(dir, "fd")));
    if (!names) return names.error();
    if (!names->has_value()) return {};

    std::vector<int> fds;
    for (const auto& name : **names) {
        int fd = -1;
        if (parse_number(std::string_view(name), fd)) fds.push_back(fd);
    }
    std::sort(fds.begin(), fds.end());

    for (int fd : fds) {
        std::string fd_path = path_join(dir, "fd/" + std::to_string(fd));
        auto link = optional_entry(read_link(fd_path));
        if (!link) return link.error();
        OpenFile f;
        f.fd = fd;
        if (link->has_value()) {
            f.path = std::move(**link);
        } else if (!exists_nofollow(fd_path)) {
            continue;  // closed since the listing
        }
        // else: an fd we may not inspect is still reported, path unknown.
        f.socket_inode = parse_socket_link(f.path);
        f.deleted = strip_deleted(f.path);

        if (auto st = stat_path(fd_path)) {
            f.id = file_id(*st);
            f.mode = st->st_mode;
            f.nlink = st->st_nlink;
            // The suffix is only text a file name could also carry; a
            // link count of 0 is the kernel's own word.
            if (S_ISREG(st->st_mode) && st->st_nlink == 0) f.deleted = true;
        } else if (vanished(st.error().err)) {
            continue;
        }

        auto info = read_file(path_join(dir, "fdinfo/" + std::to_string(fd)));
        if (!info) {
            if (vanished(info.error().err)) continue;
            if (!tolerated(info.error().err)) return info.error();
        } else {
            auto flags = parse_fdinfo_flags(*info);
            if (!flags) return flags.error().context(fd_path);
            f.flags = *flags;
        }
        p.files.push_back(std::move(f));
    }
    return {};
}

Status read_details(const std::string& dir, const ScanOptions& options, Process& p) {
    // Kernel threads share PID 1's root and cwd: reported so that callers
    // see the whole picture, but they are never candidates for anything.
    auto root = read_optional_link(path_join(dir, "root"));
    if (!root) return root.error();
    if (root->has_value()) {
        p.root = std::move(**root);
        p.root_id = stat_id(path_join(dir, "root"));
        p.root_mount_id = mount_id_of(path_join(dir, "root"));
    }
    auto cwd = read_optional_link(path_join(dir, "cwd"));
    if (!cwd) return cwd.error();
    if (cwd->has_value()) {
        p.cwd = std::move(**cwd);
        p.cwd_id = stat_id(path_join(dir, "cwd"));
    }

    auto cmdline = optional_entry(read_file(path_join(dir, "cmdline")));
    if (!cmdline) return cmdline.error();
    if (cmdline->has_value()) p.cmdline = parse_nul_separated(**cmdline);

    if (p.kernel_thread) return {};

    auto exe = read_optional_link(path_join(dir, "exe"));
    if (!exe) return exe.error();
    if (exe->has_value()) {
        // Kept with its " (deleted)" suffix: Process has no flag for it, and
        // a binary replaced by an upgrade but still running is worth seeing.
        p.exe = std::move(**exe);
        p.exe_id = stat_id(path_join(dir, "exe"));
    }

    if (!options.with_files) return {};

    if (auto st = read_files(dir, p); !st) return st;

    auto maps = optional_entry(read_file(path_join(dir, "maps")));
    if (!maps) return maps.error();
    if (maps->has_value()) p.maps = parse_proc_maps(**maps);
    return {};
}

}  // namespace

bool OpenFile::open_for_writing() const {
    int acc = flags & O_ACCMODE;
    return acc == O_WRONLY || acc == O_RDWR;
}

Result<ProcessStat> parse_proc_stat(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return plain_error("malformed /proc/<pid>/stat (" + why + "): " +
                           quoted(std::string(text.substr(0, 200))));
    };
    // comm is free text chosen by the process ("(a) b) c"), but every field
    // after it is numeric or a state letter: the last ')' closes it.
    size_t open = text.find('(');
    size_t close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return bad("no (comm)");

    ProcessStat st;
    if (!parse_number(trim(text.substr(0, open)), st.pid)) return bad("pid");
    st.comm = std::string(text.substr(open + 1, close - open - 1));

    std::string_view rest = text.substr(close + 1);
    std::string_view state = next_token(rest);
    if (state.size() != 1) return bad("state");
    st.state = state[0];
    if (!parse_number(next_token(rest), st.ppid)) return bad("ppid");
    // pgrp, session, tty_nr, tpgid: fields 5 to 8.
    for (int i = 0; i < 4; ++i) {
        if (next_token(rest).empty()) return bad("truncated");
    }
    if (!parse_number(next_token(rest), st.flags)) return bad("flags");
    return st;
}

bool is_kernel_thread(const ProcessStat& stat) {
    // kthreadd has PF_KTHREAD itself; pid 2 is checked as well so that the
    // parent of every kernel thread is never mistaken for a process to kill.
    // Only valid for the initial pid namespace's /proc, which is the one
    // offroot reads.
    return (stat.flags & PF_KTHREAD) != 0 || stat.pid == 2;
}

Result<int> parse_fdinfo_flags(std::string_view text) {
    for (std::string_view line : split_lines(text)) {
        if (!line.starts_with("flags:")) continue;
        int flags = 0;
        std::string_view value = trim(line.substr(6));
        if (!parse_number(value, flags, 8))
            return plain_error("malformed fdinfo flags: " + quoted(std::string(line)));
        return flags;
    }
    return plain_error("fdinfo has no flags: line");
}

std::vector<MappedFile> parse_proc_maps(std::string_view text) {
    std::vector<MappedFile> out;
    std::set<std::tuple<std::string, dev_t, ino_t>> seen;
    for (std::string_view line : split_lines(text)) {
        std::string_view rest = line;
        std::string_view range = next_token(rest);
        std::string_view perms = next_token(rest);
        std::string_view offset = next_token(rest);
        std::string_view dev = next_token(rest);
        std::string_view inode = next_token(rest);
        if (range.empty() || perms.empty() || offset.empty() || inode.empty()) continue;

        size_t colon = dev.find(':');
        unsigned major = 0;
        unsigned minor = 0;
        ino_t ino = 0;
        if (colon == std::string_view::npos || !parse_number(dev.substr(0, colon), major, 16) ||
            !parse_number(dev.substr(colon + 1), minor, 16) || !parse_number(inode, ino))
            continue;

        // The path is padded to a column with spaces and runs to the end of
        // the line; a file name may itself contain (trailing) spaces.
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        // Anonymous memory, [heap], [stack], [vdso], [anon:name]: no file.
        if (ino == 0 || rest.empty() || rest.front() == '[') continue;

        MappedFile m;
        m.path = unescape_newlines(rest);
        m.deleted = strip_deleted(m.path);
        m.dev = makedev(major, minor);
        m.ino = ino;
        if (!seen.emplace(m.path, m.dev, m.ino).second) continue;
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<std::string> parse_nul_separated(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        size_t nul = text.find('\0');
        if (nul == std::string_view::npos) {
            // A process that rewrote its argv (setproctitle) may drop the
            // final NUL: the tail is still an argument.
            out.emplace_back(text);
            break;
        }
        out.emplace_back(text.substr(0, nul));
        text.remove_prefix(nul + 1);
    }
    return out;
}

std::optional<ino_t> parse_socket_link(std::string_view link) {
    constexpr std::string_view prefix = "socket:[";
    if (!link.starts_with(prefix) || !link.ends_with("]")) return std::nullopt;
    std::string_view digits = link.substr(prefix.size(), link.size() - prefix.size() - 1);
    ino_t ino = 0;
    if (!parse_number(digits, ino)) return std::nullopt;
    return ino;
}

Result<Process> read_process(pid_t pid, const ScanOptions& options) {
    const std::string dir = path_join(options.proc, std::to_string(pid));

    auto stat = read_parsed(path_join(dir, "stat"), parse_proc_stat);
    if (!stat) return stat.error();

    Process p;
    p.stat = std::move(*stat);
    p.kernel_thread = is_kernel_thread(p.stat);
    if (auto st = read_details(dir, options, p); !st) return st.error();

    // An exit during the reads left holes that look like EACCES; a process
    // reaped by now is reported as gone, not as one holding nothing.
    if (auto alive = stat_path(dir); !alive) return alive.error();
    return p;
}

Result<std::vector<Process>> scan_processes(const ScanOptions& options) {
    auto names = list_dir(options.proc);
    if (!names) return names.error().context("listing processes");

    std::vector<pid_t> pids;
    for (const auto& name : *names) {
        pid_t pid = 0;
        if (parse_number(std::string_view(name), pid) && pid > 0) pids.push_back(pid);
    }
    std::sort(pids.begin(), pids.end());

    std::vector<Process> out;
    out.reserve(pids.size());
    for (pid_t pid : pids) {
        auto p = read_process(pid, options);
        if (!p) {
            if (vanished(p.error().err)) continue;
            return p.error();
        }
        out.push_back(std::move(*p));
    }
    return out;
}

}  // namespace offroot

namespace offroot {

bool uses_device(const Process& p, dev_t dev) {
    if ((p.root_id && p.root_id->dev == dev) || (p.cwd_id && p.cwd_id->dev == dev) || (p.exe_id && p.exe_id->dev == dev))
        return true;
    for (const auto& f : p.files)
        if (f.id && f.id->dev == dev) return true;
    for (const auto& m : p.maps)
        if (m.dev == dev) return true;
    return false;
}

std::optional<uint64_t> mount_id_of(const std::string& path) {
    struct statx sx {};
    if (::statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID)) return std::nullopt;
    return sx.stx_mnt_id;
}

std::optional<std::string> storage_daemon_role(const Process& process) {
    if (!process.cmdline.empty() && !process.cmdline.front().empty() && process.cmdline.front().front() == '@')
        return "a root storage daemon (argv[0] " + quoted(process.cmdline.front()) + ")";
    for (const char* daemon : {"mdmon", "multipathd", "iscsid"})
        if (process.stat.comm == daemon) return std::string(daemon) + ", which serves a storage stack";
    return std::nullopt;
}

std::vector<pid_t> select_processes_to_stop(const std::vector<Process>& processes,
                                            const std::vector<pid_t>& spared, pid_t self) {
    std::vector<pid_t> out;
    for (const auto& p : processes) {
        const pid_t pid = p.stat.pid;
        if (p.kernel_thread || is_kernel_thread(p.stat) || pid == 1 || pid == self) continue;
        if (storage_daemon_role(p)) continue;
        if (std::find(spared.begin(), spared.end(), pid) != spared.end()) continue;
        out.push_back(pid);
    }
    return out;
}

std::optional<long> parse_proc_syscall(std::string_view text) {
    std::string_view rest = text;
    const std::string_view first = next_field(rest, " \n");
    long number = 0;
    if (!parse_number(first, number)) return std::nullopt;
    return number;
}

std::optional<long> current_syscall(pid_t pid) {
    auto text = read_file("/proc/" + std::to_string(pid) + "/syscall");
    if (!text) return std::nullopt;
    return parse_proc_syscall(*text);
}

bool is_module_loader(const ProcessStat& stat, std::optional<long> syscall) {
    for (const char* loader : {"modprobe", "insmod", "kmod"})
        if (stat.comm == loader) return true;
    return syscall && (*syscall == SYS_finit_module || *syscall == SYS_init_module);
}

}  // namespace offroot
