// The admin's tools for the offline work, brought into RAM at enter and
// freed at return: e2fsprogs always, lvm2, cryptsetup, mdadm, xfsprogs and
// btrfs-progs where the host's disks need them, and what offroot.conf's
// TOOLS names. Kept resident for the whole uptime they would cost megabytes
// (e2fsprogs alone 1.4 MiB); copied while the root is still mounted, they
// cost RAM only while DETACHED.
//
// Each program keeps the C library and loader it came with: the host's, in
// a directory of their own, so that a library of the environment (built
// into the initramfs at boot, maybe older than the disk's since an upgrade)
// is never replaced under busybox and dropbear. A small wrapper at the
// program's own path (/usr/sbin/e2fsck) starts it through that loader, with
// the name it was called by (lvreduce is lvm; mkfs.ext4 is mke2fs).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

// In the environment; the record of what was placed outside it is inside.
inline constexpr const char* kToolsDir = "/usr/lib/offroot/tools";
// Read from the real root: its TOOLS are the admin's extra tools.
inline constexpr const char* kConfPath = "/etc/offroot/offroot.conf";

// What the host's disks hold, as far as the tools are concerned.
struct ToolNeeds {
    std::string root_fs_type;           // ext*: e2fsck is essential (return --fsck)
    std::set<std::string> fs_types;     // the root's and every other local mount's
    std::set<std::string> stack_kinds;  // of read_block_stack: lvm, crypt, raid1, ...
    std::vector<std::string> extra;     // offroot.conf's TOOLS
};

struct ToolWanted {
    std::string name;        // a command name, or an absolute path (TOOLS)
    std::string why;         // "ext4", "lvm", "offroot.conf TOOLS"
    bool essential = false;  // enter refuses without it (return --fsck needs e2fsck)
    bool optional = false;   // an alias or helper that this version may not have: no warning
};

// The tools for these needs, each once, in a stable order.
std::vector<ToolWanted> tools_wanted(const ToolNeeds& needs);

// The words of VARIABLE="a b" (or 'a b', or a b without quotes) in a shell
// configuration like offroot.conf; the last assignment wins. An assignment
// that is more than plain words (a $ or a ` in it) is an error naming it.
Result<std::vector<std::string>> conf_words(std::string_view conf_text, const std::string& variable);

struct ToolCommand {
    std::string name;             // what the admin types
    std::string source;           // where it is in the real root
    std::string exe;              // its file under kToolsDir/exe
    std::string interpreter_exe;  // a bash script's bash under kToolsDir/exe; "/bin/sh": the environment's
    std::string wrapper;          // the wrapper's path in the environment
    std::string why;
    bool essential = false;
    // The environment has busybox's applet of that name (mke2fs: ext2
    // only): the wrapper takes its place while DETACHED, and return puts
    // the applet back.
    bool replaces_applet = false;
};

struct ToolFile {
    std::string source;  // in the real root
    std::string dest;    // absolute in the environment
    uint64_t bytes = 0;
};

struct ToolPlan {
    std::vector<ToolCommand> commands;
    std::vector<ToolFile> files;        // programs, libraries and the loader, each once
    std::string loader;                 // the loader's path in the environment
    bool lvm_config = false;            // the host's /etc/lvm/*.conf go along
    std::vector<std::string> warnings;  // each tool that will be missing, and why
    std::vector<std::string> missing_essential;

    // RAM the copies and wrappers take on ramfs or tmpfs: whole pages.
    uint64_t ram_bytes() const;
};

// Finds each wanted tool in the real root (mounted at `real_root`) and what
// it needs; `environment` is where the environment's "/" is seen from here,
// for the names it already has. Reads only.
Result<ToolPlan> plan_tools(const std::string& real_root, const std::string& environment,
                            const std::vector<ToolWanted>& wanted);

// The wrapper's text for one command of the plan.
std::string tool_wrapper(const ToolCommand& command, const ToolPlan& plan);

// Copies the plan's files from the real root into this process's root (the
// environment), writes the wrappers, and runs each tool's loader check
// (ld.so --list) and, for the main ones, its version. A tool that fails its
// check loses its wrapper and is a warning; so is a file that cannot be
// copied. An essential tool lost that way is an error, and so is anything
// that leaves the environment half-written: then everything placed is
// removed again. Returns the warnings.
Result<std::vector<std::string>> bring_tools(const ToolPlan& plan, const std::string& real_root);

// Removes what bring_tools placed (its record says what), and nothing else:
// a file is removed only when it is still one of ours.
Status remove_tools();

}  // namespace offroot
