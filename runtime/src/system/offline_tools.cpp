#include "system/offline_tools.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "base/files.hpp"
#include "base/subprocess.hpp"
#include "base/text.hpp"
#include "kernel/elf.hpp"

namespace offroot {

namespace {

constexpr uint64_t kPage = 4096;
// Debian's /etc/mtab, made while DETACHED where the environment has none.
constexpr const char* kMtabTarget = "../proc/self/mounts";
// The second line of every wrapper: remove_tools removes only files that
// carry it.
constexpr const char* kWrapperMark = "# offroot: brought into RAM by offroot enter for the offline work; "
                                     "offroot return removes it";
const char* const kSearchDirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/libexec"};

struct ToolGroup {
    const char* why;
    std::vector<const char*> main;
    // Aliases and helpers: other names of a main program (a wrapper each,
    // no copy), or scripts the main one calls by path; versions differ in
    // which they have.
    std::vector<const char*> optional;
};

const ToolGroup kExt{"e2fsprogs",
                     {"e2fsck", "resize2fs", "mke2fs", "tune2fs", "dumpe2fs"},
                     {"fsck.ext2", "fsck.ext3", "fsck.ext4", "mkfs.ext2", "mkfs.ext3", "mkfs.ext4", "e2label"}};
const ToolGroup kLvm{"lvm",
                     {"lvm"},
                     // blkid: util-linux's, for fsadm (busybox's lacks -o and -s);
                     // date: coreutils', for fsadm (busybox's cannot read tune2fs's times);
                     // fsck: util-linux's, which fsadm runs before a shrink
                     {"dmsetup", "fsadm", "lvresize_fs_helper", "blkid", "date", "fsck", "lvs", "vgs", "pvs", "lvdisplay", "vgdisplay",
                      "pvdisplay", "lvscan", "vgscan", "pvscan", "lvchange", "vgchange", "lvresize", "lvreduce",
                      "lvextend", "lvcreate", "lvremove", "lvrename", "vgcfgbackup", "vgcfgrestore", "pvresize",
                      "pvcreate", "vgextend", "vgreduce", "pvmove"}};
const ToolGroup kCrypt{"dm-crypt", {"cryptsetup"}, {"dmsetup"}};
const ToolGroup kMd{"md", {"mdadm"}, {}};
const ToolGroup kXfs{"xfs", {"xfs_repair"}, {"xfs_db", "mkfs.xfs", "xfs_growfs", "xfs_admin"}};
const ToolGroup kBtrfs{"btrfs", {"btrfs"}, {"mkfs.btrfs", "btrfstune"}};

// What proves that a main tool runs: its version, which touches no disk.
const std::map<std::string, std::vector<std::string>> kVersionProbe = {
    {"e2fsck", {"-V"}},          {"lvm", {"version"}},   {"cryptsetup", {"--version"}},
    {"mdadm", {"--version"}},    {"xfs_repair", {"-V"}}, {"btrfs", {"--version"}},
};

bool is_ext(const std::string& fs) { return fs == "ext2" || fs == "ext3" || fs == "ext4"; }

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string parent_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

uint64_t pages(uint64_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

std::string first_line(const std::string& text) {
    auto line = text.substr(0, text.find('\n'));
    return line.empty() ? "(no output)" : line;
}

Status append_record(const std::string& path) {
    return write_file(std::string(kToolsDir) + "/placed", path + "\n", O_WRONLY | O_CREAT | O_APPEND, 0600);
}

// Copies `source` (inside the root `root_fd`) to `dest`, which must not exist.
Status copy_from_root(int root_fd, const std::string& source, const std::string& dest, mode_t mode) {
    auto in = open_in_root(root_fd, source, O_RDONLY);
    if (!in) return in.error();
    struct stat st{};
    if (::fstat(in->get(), &st) != 0) return sys_error("fstat(" + quoted(source) + ")");
    auto out = open_path(dest, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (!out) return out.error();
    off_t offset = 0;
    while (offset < st.st_size) {
        ssize_t n = ::sendfile(out->get(), in->get(), &offset, static_cast<size_t>(st.st_size - offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("sendfile(" + quoted(dest) + ", " + quoted(source) + ")");
        if (n == 0) return plain_error(quoted(source) + " became shorter while it was copied");
    }
    if (::fchmod(out->get(), mode) != 0) return sys_error("fchmod(" + quoted(dest) + ")");
    return {};
}

// mkdir -p, recording each directory made outside kToolsDir.
Status make_parents(const std::string& dir) {
    if (dir == "/" || exists_nofollow(dir)) return {};
    if (auto s = make_parents(parent_of(dir)); !s) return s;
    if (auto s = append_record(dir); !s) return s;
    return make_dir(dir, 0755);
}

// Removes a tree of ours, never crossing into another filesystem.
Status remove_tree(const std::string& path, dev_t dev) {
    auto st = lstat_path(path);
    if (!st) return st.error().err == ENOENT ? Status{} : Status{st.error()};
    if (st->st_dev != dev) return plain_error(quoted(path) + " is on another filesystem: left alone");
    if (S_ISDIR(st->st_mode)) {
        auto names = list_dir(path);
        if (!names) return names.error();
        for (const auto& n : *names)
            if (auto s = remove_tree(path_join(path, n), dev); !s) return s;
        if (::rmdir(path.c_str()) != 0) return sys_error("rmdir(" + quoted(path) + ")");
        return {};
    }
    if (::unlink(path.c_str()) != 0) return sys_error("unlink(" + quoted(path) + ")");
    return {};
}

// One of busybox's applets: the busybox binary under another name.
bool is_busybox_applet(const std::string& environment, const std::string& path) {
    auto busybox = stat_path(path_join(environment, "/bin/busybox"));
    auto st = stat_path(path);
    return busybox && st && same_inode(*busybox, *st);
}

bool is_our_wrapper(const std::string& path) {
    auto st = lstat_path(path);
    if (!st || !S_ISREG(st->st_mode) || st->st_size > 4096) return false;
    auto text = read_file(path);
    return text && text->find(kWrapperMark) != std::string::npos;
}

}  // namespace

std::vector<ToolWanted> tools_wanted(const ToolNeeds& needs) {
    std::vector<ToolWanted> out;
    auto add = [&out](const std::string& name, const std::string& why, bool essential, bool optional) {
        for (auto& w : out)
            if (w.name == name) {
                w.essential = w.essential || essential;
                w.optional = w.optional && optional;
                return;
            }
        out.push_back(ToolWanted{name, why, essential, optional});
    };
    auto add_group = [&add](const ToolGroup& g, bool essential_main) {
        for (const char* n : g.main) add(n, g.why, essential_main && std::string(n) == "e2fsck", false);
        for (const char* n : g.optional) add(n, g.why, false, true);
    };
    // e2fsprogs always: return --fsck runs e2fsck on an ext root, and the
    // usual offline job is on ext4 wherever the root is.
    add_group(kExt, is_ext(needs.root_fs_type));
    if (needs.stack_kinds.count("lvm")) add_group(kLvm, false);
    if (needs.stack_kinds.count("crypt")) add_group(kCrypt, false);
    for (const auto& k : needs.stack_kinds)
        if (k.rfind("raid", 0) == 0 || k == "linear") {
            add_group(kMd, false);
            break;
        }
    if (needs.fs_types.count("xfs")) add_group(kXfs, false);
    if (needs.fs_types.count("btrfs")) add_group(kBtrfs, false);
    for (const auto& e : needs.extra) add(e, "offroot.conf TOOLS", false, false);
    return out;
}

Result<std::vector<std::string>> conf_words(std::string_view conf_text, const std::string& variable) {
    std::vector<std::string> words;
    const std::string prefix = variable + "=";
    int line_number = 0;
    for (std::string_view line : split_lines(conf_text)) {
        ++line_number;
        std::string_view rest = line;
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
        if (rest.substr(0, prefix.size()) != prefix) continue;
        rest.remove_prefix(prefix.size());
        std::string_view value;
        if (!rest.empty() && (rest.front() == '"' || rest.front() == '\'')) {
            const char quote = rest.front();
            const auto end = rest.find(quote, 1);
            if (end == std::string_view::npos)
                return plain_error(variable + " on line " + std::to_string(line_number) + ": no closing " +
                                   std::string(1, quote));
            value = rest.substr(1, end - 1);
        } else {
            value = rest.substr(0, rest.find_first_of(" \t#"));
        }
        if (value.find_first_of("$`\\") != std::string_view::npos)
            return plain_error(variable + " on line " + std::to_string(line_number) +
                               " is more than a list of words (it has $, ` or \\): write the names out");
        words.clear();
        for (auto w : split_fields(value, " \t")) words.emplace_back(w);
    }
    return words;
}

uint64_t ToolPlan::ram_bytes() const {
    uint64_t total = 0;
    for (const auto& f : files) total += pages(f.bytes);
    total += commands.size() * kPage;
    if (lvm_config) total += 4 * kPage;
    return total;
}

Result<ToolPlan> plan_tools(const std::string& real_root, const std::string& environment,
                            const std::vector<ToolWanted>& wanted) {
    ToolPlan plan;
    auto root_fd = open_path(real_root, O_RDONLY | O_DIRECTORY);
    if (!root_fd) return root_fd.error().context("the real root");
    const std::string tools(kToolsDir);
    std::map<std::pair<dev_t, ino_t>, std::string> exe_of;  // one copy a program, however many names
    std::string loader_source;

    // Plans a file into lib/ (libraries, the loader) or exe/; false if a
    // different file of that name is planned already. The same file by two
    // paths (/lib64/ld-linux-x86-64.so.2, which libc names from
    // /lib/x86_64-linux-gnu) is one copy.
    std::map<std::string, std::pair<dev_t, ino_t>> identity_of;  // dest -> the file planned there
    auto plan_file = [&](const std::string& source, const std::string& dest) -> Result<bool> {
        auto fd = open_in_root(root_fd->get(), source, O_RDONLY);
        if (!fd) return fd.error();
        struct stat st{};
        if (::fstat(fd->get(), &st) != 0) return sys_error("fstat(" + quoted(source) + ")");
        const auto identity = std::make_pair(st.st_dev, st.st_ino);
        if (auto seen = identity_of.find(dest); seen != identity_of.end()) return seen->second == identity;
        plan.files.push_back(ToolFile{source, dest, static_cast<uint64_t>(st.st_size)});
        identity_of.emplace(dest, identity);
        return true;
    };
    // The program's loader and libraries into lib/; false with a warning
    // when they do not fit with what is planned.
    auto plan_needs = [&](const std::string& name, const std::string& program) -> Result<bool> {
        auto files = program_files_in(real_root, program);
        if (!files) return files.error();
        auto fd = open_in_root(root_fd->get(), program, O_RDONLY);
        if (!fd) return fd.error();
        auto needs = read_program_needs(fd->get(), program);
        if (!needs) return needs.error();
        if (needs->interpreter.empty()) return true;  // static
        if (!loader_source.empty() && loader_source != needs->interpreter) {
            plan.warnings.push_back(name + ": needs the loader " + needs->interpreter + ", not " + loader_source +
                                    " as the others do: not brought");
            return false;
        }
        loader_source = needs->interpreter;
        plan.loader = tools + "/lib/" + base_name(loader_source);
        for (const auto& f : *files) {
            auto fits = plan_file(f, tools + "/lib/" + base_name(f));
            if (!fits) return fits.error();
            if (!*fits) {
                plan.warnings.push_back(name + ": needs " + f + ", whose name another library of the tools has: not brought");
                return false;
            }
        }
        return true;
    };

    for (const auto& w : wanted) {
        std::string source;
        if (!w.name.empty() && w.name.front() == '/') {
            if (open_in_root(root_fd->get(), w.name, O_RDONLY)) source = w.name;
        } else {
            for (const char* dir : kSearchDirs)
                if (open_in_root(root_fd->get(), std::string(dir) + "/" + w.name, O_RDONLY)) {
                    source = std::string(dir) + "/" + w.name;
                    break;
                }
        }
        const std::string name = base_name(w.name);
        if (source.empty()) {
            if (w.optional) continue;
            plan.warnings.push_back(name + " (" + w.why + "): not installed in the root filesystem, so not brought "
                                    "into RAM");
            if (w.essential) plan.missing_essential.push_back(name);
            continue;
        }
        // The environment's own program of that name (kept resident by
        // PROGRAMS, or a busybox applet) stays: it is what the admin had.
        const std::string in_environment = environment == "/" ? source : environment + source;
        const bool applet = is_busybox_applet(environment, in_environment);
        if (exists_nofollow(in_environment) && !applet && !is_our_wrapper(in_environment)) continue;
        auto fd = open_in_root(root_fd->get(), source, O_RDONLY);
        if (!fd) return fd.error();
        struct stat st{};
        if (::fstat(fd->get(), &st) != 0) return sys_error("fstat(" + quoted(source) + ")");
        auto needs = read_program_needs(fd->get(), source);
        if (!needs) {
            if (!w.optional) plan.warnings.push_back(name + " (" + w.why + "): " + needs.error().message() + "; not brought");
            if (w.essential) plan.missing_essential.push_back(name);
            continue;
        }
        ToolCommand c{name, source, "", "", source, w.why, w.essential, applet};
        const auto key = std::make_pair(st.st_dev, st.st_ino);
        if (auto seen = exe_of.find(key); seen != exe_of.end()) {
            c.exe = seen->second;  // another name of a program planned already
            for (const auto& earlier : plan.commands)
                if (earlier.exe == c.exe) c.interpreter_exe = earlier.interpreter_exe;
            plan.commands.push_back(c);
            continue;
        }
        c.exe = name;
        while (identity_of.count(tools + "/exe/" + c.exe)) c.exe += "_";
        if (needs->script) {
            const std::string interp = base_name(needs->interpreter);
            if (needs->interpreter == "/bin/sh" || interp == "sh" || interp == "dash") {
                c.interpreter_exe = "/bin/sh";  // busybox's
            } else if (interp == "bash") {
                if (auto ok = plan_needs(name, needs->interpreter); !ok) return ok.error();
                else if (!*ok) continue;
                if (auto fits = plan_file(needs->interpreter, tools + "/exe/bash"); !fits) return fits.error();
                c.interpreter_exe = "bash";
            } else {
                if (!w.optional)
                    plan.warnings.push_back(name + " (" + w.why + "): a script for " + needs->interpreter +
                                            ", which is not brought into RAM; not brought");
                continue;
            }
        } else if (auto ok = plan_needs(name, source); !ok) {
            return ok.error();
        } else if (!*ok) {
            continue;
        }
        if (auto fits = plan_file(source, tools + "/exe/" + c.exe); !fits) return fits.error();
        exe_of.emplace(key, c.exe);
        if (w.why == "lvm") plan.lvm_config = true;
        plan.commands.push_back(c);
    }
    return plan;
}

std::string tool_wrapper(const ToolCommand& c, const ToolPlan& plan) {
    const std::string tools(kToolsDir);
    std::string env = "DM_DISABLE_UDEV=1";  // udev is gone: libdevmapper must not wait for it
    if (plan.lvm_config) env += " LVM_SYSTEM_DIR=" + tools + "/etc/lvm LVM_SUPPRESS_FD_WARNINGS=1";
    std::string run;
    if (c.interpreter_exe == "/bin/sh") {
        run = "/bin/sh " + tools + "/exe/" + c.exe;
    } else if (!plan.loader.empty()) {
        const std::string program = c.interpreter_exe.empty() ? tools + "/exe/" + c.exe
                                                              : tools + "/exe/" + c.interpreter_exe + " " + tools + "/exe/" + c.exe;
        run = plan.loader + " --library-path " + tools + "/lib" +
              (c.interpreter_exe.empty() ? " --argv0 " + c.name : std::string()) + " " + program;
    } else {
        run = tools + "/exe/" + c.exe;  // static
    }
    return "#!/bin/sh\n" + std::string(kWrapperMark) + "\n# " + c.name + " from the real root's " + c.source + " (" +
           c.why + ")\n" + env + " exec " + run + " \"$@\"\n";
}

Result<std::vector<std::string>> bring_tools(const ToolPlan& plan, const std::string& real_root) {
    const std::string tools(kToolsDir);
    std::vector<std::string> warnings = plan.warnings;
    // Whatever an earlier DETACHED left (a return that never came back here).
    if (auto s = remove_tools(); !s) return s.error().context("removing the tools of an earlier enter");
    auto root_fd = open_path(real_root, O_RDONLY | O_DIRECTORY);
    if (!root_fd) return root_fd.error().context("the real root");
    auto fail = [](const Error& e) -> Error {
        if (auto s = remove_tools(); !s) return e.context("bringing the tools (and removing them again: " + s.error().message() + ")");
        return e.context("bringing the tools");
    };
    for (const char* dir : {"", "/exe", "/lib"})
        if (auto s = make_dir(tools + dir, 0755); !s) return fail(s.error());
    std::set<std::string> failed;
    for (const auto& f : plan.files)
        if (auto s = copy_from_root(root_fd->get(), f.source, f.dest, 0755); !s) {
            if (s.error().err == ENOSPC || s.error().err == ENOMEM) return fail(s.error());
            warnings.push_back(f.source + " could not be copied: " + s.error().message());
            failed.insert(f.dest);
        }
    if (plan.lvm_config) {
        for (const char* dir : {"/etc", "/etc/lvm", "/etc/lvm/backup", "/etc/lvm/archive"})
            if (auto s = make_dir(tools + dir, 0700); !s) return fail(s.error());
        // The host's filters and settings; the backups lvm writes while
        // DETACHED stay in RAM (the disk's /etc/lvm is unmounted).
        for (const char* conf : {"/etc/lvm/lvm.conf", "/etc/lvm/lvmlocal.conf"})
            if (open_in_root(root_fd->get(), conf, O_RDONLY))
                if (auto s = copy_from_root(root_fd->get(), conf, tools + conf, 0644); !s)
                    warnings.push_back(std::string(conf) + " could not be copied: " + s.error().message() +
                                       "; lvm runs with its defaults");
    }
    // lvm's --resizefs (fs_get_info), fsadm and mount helpers read
    // /etc/mtab, which the environment has none of: Debian's is this link.
    if (!exists_nofollow("/etc/mtab")) {
        if (auto s = make_parents("/etc"); !s) return fail(s.error());
        if (auto s = append_record("link /etc/mtab"); !s) return fail(s.error());
        if (::symlink(kMtabTarget, "/etc/mtab") != 0)
            return fail(sys_error("symlink(\"" + std::string(kMtabTarget) + "\", \"/etc/mtab\")"));
    }
    std::vector<std::string> essential_lost;
    std::map<std::string, std::string> loader_verdict;  // exe -> problem, "" when it loads
    for (const auto& c : plan.commands) {
        if (auto s = make_parents(parent_of(c.wrapper)); !s) return fail(s.error());
        if (c.replaces_applet) {
            if (auto s = append_record("applet " + c.wrapper); !s) return fail(s.error());
            if (::unlink(c.wrapper.c_str()) != 0) return fail(sys_error("unlink(" + quoted(c.wrapper) + "), busybox's applet"));
        } else if (auto s = append_record(c.wrapper); !s) {
            return fail(s.error());
        }
        if (auto s = write_file(c.wrapper, tool_wrapper(c, plan), O_WRONLY | O_CREAT | O_EXCL, 0755); !s)
            return fail(s.error());
        // The loader must find everything; then the main tools must start.
        std::string problem;
        const std::string exe = tools + "/exe/" + (c.interpreter_exe.empty() || c.interpreter_exe == "/bin/sh" ? c.exe : c.interpreter_exe);
        if (failed.count(exe)) problem = "its copy failed";
        // Once a program: its other names share the verdict.
        if (problem.empty() && !plan.loader.empty() && c.interpreter_exe != "/bin/sh") {
            auto known = loader_verdict.find(exe);
            if (known == loader_verdict.end()) {
                std::string verdict;
                auto listed = run_command(Command{{plan.loader, "--library-path", tools + "/lib", "--list", exe}, "", 30});
                if (!listed) {
                    verdict = listed.error().message();
                } else if (!listed->ok() || listed->output.find("not found") != std::string::npos) {
                    verdict = "the loader cannot start it: " + first_line(listed->output);
                }
                known = loader_verdict.emplace(exe, verdict).first;
            }
            problem = known->second;
        }
        if (problem.empty())
            if (auto probe = kVersionProbe.find(c.name); probe != kVersionProbe.end()) {
                Command run{{c.wrapper}, "", 30};
                for (const auto& a : probe->second) run.argv.push_back(a);
                auto ran = run_command(run);
                if (!ran) {
                    problem = ran.error().message();
                } else if (ran->exit_status < 0 || ran->exit_status > 8) {
                    problem = describe(run) + " failed: " + first_line(ran->output);
                }
            }
        if (problem.empty()) continue;
        ::unlink(c.wrapper.c_str());
        if (c.replaces_applet) (void)!::link("/bin/busybox", c.wrapper.c_str());
        warnings.push_back(c.name + " (" + c.why + ") was copied but does not run (" + problem + "): not available");
        if (c.essential) essential_lost.push_back(c.name + ": " + problem);
    }
    if (!essential_lost.empty()) {
        std::string names;
        for (const auto& e : essential_lost) names += (names.empty() ? "" : "; ") + e;
        return fail(plain_error("a tool that return needs does not run from RAM: " + names));
    }
    return warnings;
}

Status remove_tools() {
    const std::string tools(kToolsDir);
    auto top = lstat_path(tools);
    if (!top) return top.error().err == ENOENT ? Status{} : Status{top.error()};
    if (auto record = read_file(tools + "/placed"); record) {
        auto lines = split_lines(*record);
        for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
            std::string path(*it);
            // "link PATH": the /etc/mtab we made, if it is still ours.
            if (path.rfind("link ", 0) == 0) {
                path = path.substr(5);
                auto target = read_link(path);
                if (target && *target == kMtabTarget && ::unlink(path.c_str()) != 0)
                    return sys_error("unlink(" + quoted(path) + ")");
                continue;
            }
            // "applet PATH": busybox's applet goes back where the wrapper was.
            const bool applet = path.rfind("applet ", 0) == 0;
            if (applet) path = path.substr(7);
            if (path.empty() || path.front() != '/') continue;
            auto st = lstat_path(path);
            if (st && S_ISDIR(st->st_mode)) {
                ::rmdir(path.c_str());  // only when empty: something else may live there now
                continue;
            }
            if (st && is_our_wrapper(path) && ::unlink(path.c_str()) != 0) return sys_error("unlink(" + quoted(path) + ")");
            if (applet && !exists_nofollow(path) && ::link("/bin/busybox", path.c_str()) != 0)
                return sys_error("link(\"/bin/busybox\", " + quoted(path) + "), putting busybox's applet back");
        }
    }
    return remove_tree(tools, top->st_dev);
}

}  // namespace offroot
