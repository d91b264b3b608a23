// What each process holds, read from /proc: root, cwd, exe, open files with
// their open mode, mapped files. Kernel threads are recognised so that
// nothing ever selects them for killing.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

// Identity of a file: device and inode, as stat() reports them.
struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const FileId&) const = default;
};

struct OpenFile {
    int fd = -1;
    std::string path;           // readlink of /proc/<pid>/fd/<fd>, " (deleted)" stripped
    std::optional<FileId> id;   // stat of the fd itself (follows the magic link)
    mode_t mode = 0;            // file type and permission bits from that stat
    nlink_t nlink = 0;
    int flags = 0;              // from fdinfo "flags:", octal (O_ACCMODE, O_APPEND, ...)
    bool deleted = false;       // unlinked while open
    std::optional<ino_t> socket_inode;  // "socket:[12345]"

    bool open_for_writing() const;  // O_WRONLY or O_RDWR
};

struct MappedFile {
    std::string path;  // " (deleted)" stripped
    dev_t dev = 0;     // from the maps line (major:minor in hex)
    ino_t ino = 0;
    bool deleted = false;
};

struct ProcessStat {
    pid_t pid = 0;
    std::string comm;  // may contain spaces and parentheses
    char state = '?';
    pid_t ppid = 0;
    unsigned long flags = 0;  // PF_* flags (field 9)
};

// statx(STATX_MNT_ID) of a path: nothing when the kernel (< 5.8) cannot say.
std::optional<uint64_t> mount_id_of(const std::string& path);

struct Process {
    ProcessStat stat;
    bool kernel_thread = false;
    std::string root;  // readlink of /proc/<pid>/root
    std::string cwd;
    std::string exe;   // empty for kernel threads
    std::optional<FileId> root_id;  // stat of /proc/<pid>/root
    // The mount the root is on: two binds of one directory have one
    // root_id but two mounts, and pivot_root tells them apart.
    std::optional<uint64_t> root_mount_id;
    std::optional<FileId> cwd_id;
    std::optional<FileId> exe_id;
    std::vector<OpenFile> files;
    std::vector<MappedFile> maps;
    std::vector<std::string> cmdline;
};

// Pure parsers, unit tested on captured samples.
Result<ProcessStat> parse_proc_stat(std::string_view text);
bool is_kernel_thread(const ProcessStat& stat);
Result<int> parse_fdinfo_flags(std::string_view text);
std::vector<MappedFile> parse_proc_maps(std::string_view text);
std::vector<std::string> parse_nul_separated(std::string_view text);
// "socket:[12345]" -> 12345
std::optional<ino_t> parse_socket_link(std::string_view link);

struct ScanOptions {
    std::string proc = "/proc";
    bool with_files = true;  // fds, fdinfo and maps: the expensive part
};

// One entry per process that still existed while it was read; processes
// that exit mid-scan are skipped, not errors.
Result<std::vector<Process>> scan_processes(const ScanOptions& options = {});
Result<Process> read_process(pid_t pid, const ScanOptions& options = {});

}  // namespace offroot

namespace offroot {

// The processes `offroot enter` stops after PID 1 has moved to RAM: every
// process but kernel threads, PID 1, the caller and the spared ones (the
// emergency environment). Kernel threads share PID 1's root and would look
// like users of the disk; killing them is never right.
// True when the process has its root, cwd or binary on the filesystem with
// this device number, or an open or mapped file there.
bool uses_device(const Process& process, dev_t dev);

// What serves storage and must never be killed: systemd's "root storage
// daemons" (argv[0] starting with '@', as the emergency dropbear and
// initramfs-started storage daemons run), and the daemons that keep a
// storage stack alive (mdmon for external-metadata RAID, multipathd,
// iscsid). Returns what it is, for messages; nothing for other processes.
std::optional<std::string> storage_daemon_role(const Process& process);

std::vector<pid_t> select_processes_to_stop(const std::vector<Process>& processes,
                                            const std::vector<pid_t>& spared, pid_t self);

// The system call a process is in, from /proc/<pid>/syscall: its first
// field. Nothing for "running" (on a CPU, not in a call) or what does not
// parse; -1 for a process blocked outside any call.
std::optional<long> parse_proc_syscall(std::string_view text);
// Read for `pid` (root may read any process's); nothing when it cannot be.
std::optional<long> current_syscall(pid_t pid);

// A process loading a kernel module: modprobe, insmod or kmod by name (it
// may be about to), or any inside init_module(2) or finit_module(2). A
// fatal signal there fails the module's init half-way, and not every
// module's error path is sound: cfg80211's on Linux 6.12, interrupted so
// ("Failed to create a rescuer kthread for wq \"cfg80211\": -EINTR"), left a
// timer in its freed memory, and the kernel panicked moments later. So
// enter waits for a loader to finish instead of signalling it.
bool is_module_loader(const ProcessStat& stat, std::optional<long> syscall);

}  // namespace offroot
