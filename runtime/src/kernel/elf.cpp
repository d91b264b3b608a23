#include "kernel/elf.hpp"

#include <elf.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

Result<std::string> read_at(int fd, uint64_t offset, uint64_t size, const std::string& what) {
    // Headers, the interpreter's name and the dynamic string table: small.
    if (size > (16u << 20)) return plain_error(what + ": an ELF table of " + std::to_string(size) + " bytes");
    std::string out(size, '\0');
    uint64_t done = 0;
    while (done < size) {
        ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("pread(" + what + ")");
        if (n == 0) return plain_error(what + ": truncated ELF file");
        done += static_cast<uint64_t>(n);
    }
    return out;
}

std::string multiarch_of(unsigned machine) {
    switch (machine) {
        case EM_X86_64: return "x86_64-linux-gnu";
        case EM_386: return "i386-linux-gnu";
        case EM_AARCH64: return "aarch64-linux-gnu";
        case EM_ARM: return "arm-linux-gnueabihf";
        case EM_RISCV: return "riscv64-linux-gnu";
        case EM_PPC64: return "powerpc64le-linux-gnu";
        case EM_S390: return "s390x-linux-gnu";
        default: return "";
    }
}

// One reader for both classes: the field layouts differ, the logic not.
template <typename Ehdr, typename Phdr, typename Dyn>
Result<ProgramNeeds> read_elf(int fd, const std::string& what) {
    ProgramNeeds needs;
    auto head = read_at(fd, 0, sizeof(Ehdr), what);
    if (!head) return head.error();
    Ehdr eh;
    std::memcpy(&eh, head->data(), sizeof eh);
    needs.multiarch = multiarch_of(eh.e_machine);
    if (eh.e_phentsize != sizeof(Phdr)) return plain_error(what + ": unexpected ELF program header size");
    auto table = read_at(fd, eh.e_phoff, static_cast<uint64_t>(eh.e_phnum) * sizeof(Phdr), what);
    if (!table) return table.error();
    std::vector<Phdr> phdrs(eh.e_phnum);
    std::memcpy(phdrs.data(), table->data(), table->size());

    auto file_offset = [&](uint64_t vaddr) -> std::optional<uint64_t> {
        for (const auto& ph : phdrs)
            if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
                return vaddr - ph.p_vaddr + ph.p_offset;
        return std::nullopt;
    };
    for (const auto& ph : phdrs) {
        if (ph.p_type == PT_INTERP) {
            auto interp = read_at(fd, ph.p_offset, ph.p_filesz, what);
            if (!interp) return interp.error();
            needs.interpreter = std::string(interp->c_str());
        }
        if (ph.p_type != PT_DYNAMIC) continue;
        auto dynamic = read_at(fd, ph.p_offset, ph.p_filesz, what);
        if (!dynamic) return dynamic.error();
        std::vector<Dyn> entries(dynamic->size() / sizeof(Dyn));
        std::memcpy(entries.data(), dynamic->data(), entries.size() * sizeof(Dyn));
        uint64_t strtab = 0, strsz = 0;
        std::vector<uint64_t> needed_offsets, runpath_offsets, rpath_offsets;
        for (const auto& d : entries) {
            switch (d.d_tag) {
                case DT_STRTAB: strtab = d.d_un.d_ptr; break;
                case DT_STRSZ: strsz = d.d_un.d_val; break;
                case DT_NEEDED: needed_offsets.push_back(d.d_un.d_val); break;
                case DT_RUNPATH: runpath_offsets.push_back(d.d_un.d_val); break;
                case DT_RPATH: rpath_offsets.push_back(d.d_un.d_val); break;
                default: break;
            }
        }
        if (needed_offsets.empty() && runpath_offsets.empty() && rpath_offsets.empty()) continue;
        auto at = file_offset(strtab);
        if (!at) return plain_error(what + ": the dynamic string table is outside every loaded segment");
        auto strings = read_at(fd, *at, strsz, what);
        if (!strings) return strings.error();
        auto string_at = [&](uint64_t off) { return off < strings->size() ? std::string(strings->c_str() + off) : ""; };
        for (uint64_t off : needed_offsets) needs.needed.push_back(string_at(off));
        // The loader ignores DT_RPATH when DT_RUNPATH is there.
        for (uint64_t off : runpath_offsets.empty() ? rpath_offsets : runpath_offsets) {
            const std::string path_list = string_at(off);
            std::string_view rest = path_list;
            while (!rest.empty()) {
                auto dir = next_field(rest, ":");
                if (!dir.empty()) needs.runpath.emplace_back(dir);
            }
        }
    }
    return needs;
}

std::string_view trimmed(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
}

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// The loader's default directories, and those of ld.so.conf.d in that root.
std::vector<std::string> default_library_dirs(int root_fd, const std::string& multiarch) {
    std::vector<std::string> dirs;
    if (auto conf_dir = open_in_root(root_fd, "/etc/ld.so.conf.d", O_RDONLY | O_DIRECTORY); conf_dir) {
        if (auto names = list_dir_fd(conf_dir->get(), "/etc/ld.so.conf.d"); names) {
            for (const auto& name : *names) {
                if (name.size() < 5 || name.compare(name.size() - 5, 5, ".conf") != 0) continue;
                auto fd = open_at(conf_dir->get(), name, O_RDONLY);
                if (!fd) continue;
                auto text = read_fd(fd->get(), name);
                if (!text) continue;
                std::string_view rest = *text;
                while (!rest.empty()) {
                    auto line = trimmed(next_field(rest, "\n"));
                    if (!line.empty() && line.front() == '/') dirs.emplace_back(line);
                }
            }
        }
    }
    if (!multiarch.empty()) {
        dirs.push_back("/lib/" + multiarch);
        dirs.push_back("/usr/lib/" + multiarch);
    }
    for (const char* d : {"/lib64", "/usr/lib64", "/lib", "/usr/lib"}) dirs.emplace_back(d);
    // ld.so.conf.d names the multiarch directories again: once each, in order.
    std::vector<std::string> unique;
    for (auto& d : dirs)
        if (std::find(unique.begin(), unique.end(), d) == unique.end()) unique.push_back(std::move(d));
    return unique;
}

struct Checker {
    int root_fd;
    std::string root;
    std::set<std::string> seen;                  // paths checked
    std::map<std::string, std::string> loaded;   // library name -> where it was found
    // The loader's directories in this root, per multiarch triplet: read
    // from ld.so.conf.d once, not for every library.
    std::map<std::string, std::vector<std::string>> library_dirs;
    // Every file checked below the program itself, in the order found.
    std::vector<std::string> files;

    const std::vector<std::string>& default_dirs(const std::string& multiarch) {
        auto it = library_dirs.find(multiarch);
        if (it == library_dirs.end()) it = library_dirs.emplace(multiarch, default_library_dirs(root_fd, multiarch)).first;
        return it->second;
    }

    // `path` is absolute inside the root; `depth` bounds scripts and
    // library chains.
    Status check(const std::string& path, const std::string& role, int depth) {
        if (!seen.insert(path).second) return {};
        if (depth > 0) files.push_back(path);
        if (depth > 16) return plain_error(role + " " + quoted(path) + ": too many levels of interpreters and libraries");
        auto fd = open_in_root(root_fd, path, O_RDONLY);
        if (!fd) return fd.error().context(role + " " + quoted(path) + " in " + quoted(root));
        struct stat st{};
        if (::fstat(fd->get(), &st) != 0) return sys_error("fstat(" + quoted(path) + ")");
        if (!S_ISREG(st.st_mode)) return plain_error(role + " " + quoted(path) + " in " + quoted(root) + " is not a regular file");
        if (depth == 0 && (st.st_mode & 0111) == 0)
            return plain_error(role + " " + quoted(path) + " in " + quoted(root) + " is not executable");
        auto needs = read_program_needs(fd->get(), path);
        if (!needs) return needs.error().context(role + " in " + quoted(root));
        if (needs->script) return check(needs->interpreter, "the interpreter of " + quoted(path), depth + 1);
        if (!needs->interpreter.empty())
            if (auto s = check(needs->interpreter, "the ELF interpreter of " + quoted(path), depth + 1); !s) return s;
        std::vector<std::string> dirs;
        for (const auto& d : needs->runpath) {
            std::string dir = d;
            if (auto at = dir.find("$ORIGIN"); at != std::string::npos) dir.replace(at, 7, dir_of(path));
            dirs.push_back(dir);
        }
        for (const auto& d : default_dirs(needs->multiarch)) dirs.push_back(d);
        // As the loader does: a library is looked up by name once; one
        // already loaded (found for an object before) satisfies every later
        // object that names it, whatever its own search path (systemd's
        // libsystemd-core needs libsystemd-shared, which only the binary's
        // RUNPATH leads to). All of this object's names first, then theirs.
        std::vector<std::pair<std::string, std::string>> resolved;
        for (const auto& lib : needs->needed) {
            if (loaded.count(lib)) continue;
            std::string found;
            if (lib.find('/') != std::string::npos) {
                found = lib;
            } else {
                // As the loader does, a library of another ELF class or
                // machine (/lib32/libc.so.6 for a 64-bit program) is passed over.
                for (const auto& dir : dirs) {
                    auto candidate = open_in_root(root_fd, dir + "/" + lib, O_RDONLY);
                    if (!candidate) continue;
                    auto its = read_program_needs(candidate->get(), dir + "/" + lib);
                    if (its && !its->script && its->multiarch != needs->multiarch) continue;
                    found = dir + "/" + lib;
                    break;
                }
            }
            if (found.empty())
                return plain_error("the library " + lib + " that " + quoted(path) + " needs is not in " + quoted(root) +
                                   " (looked in " + joined(dirs) + ")");
            loaded.emplace(lib, found);
            resolved.emplace_back(lib, found);
        }
        for (const auto& [lib, found] : resolved)
            if (auto s = check(found, "the library " + lib + " of " + quoted(path), depth + 1); !s) return s;
        return {};
    }
};

}  // namespace

Result<ProgramNeeds> read_program_needs(int fd, const std::string& what) {
    char start[256] = {};
    ssize_t got = ::pread(fd, start, sizeof start - 1, 0);
    if (got < 0) return sys_error("pread(" + quoted(what) + ")");
    if (got >= 2 && start[0] == '#' && start[1] == '!') {
        ProgramNeeds needs;
        needs.script = true;
        std::string_view line(start + 2, static_cast<size_t>(got - 2));
        line = line.substr(0, line.find('\n'));
        std::string_view rest = trimmed(line);
        needs.interpreter = std::string(next_field(rest, " \t"));
        if (needs.interpreter.empty() || needs.interpreter.front() != '/')
            return plain_error(quoted(what) + ": its #! line names no absolute interpreter");
        return needs;
    }
    if (got < EI_NIDENT || std::memcmp(start, ELFMAG, SELFMAG) != 0)
        return plain_error(quoted(what) + " is neither an ELF program nor a script");
    const bool little = start[EI_DATA] == ELFDATA2LSB;
    const bool native_little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
    if (little != native_little) return plain_error(quoted(what) + " is an ELF file of the other byte order");
    if (start[EI_CLASS] == ELFCLASS64) return read_elf<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(fd, quoted(what));
    if (start[EI_CLASS] == ELFCLASS32) return read_elf<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(fd, quoted(what));
    return plain_error(quoted(what) + ": unknown ELF class");
}

Result<UniqueFd> open_in_root(int root_fd, const std::string& path, int flags) {
    struct open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    const std::string relative = path.empty() || path.front() != '/' ? path : path.substr(1);
    long fd = ::syscall(SYS_openat2, root_fd, relative.empty() ? "." : relative.c_str(), &how, sizeof how);
    if (fd < 0) return sys_error("openat2(" + quoted(path) + ", RESOLVE_IN_ROOT)");
    return UniqueFd(static_cast<int>(fd));
}

Status check_program_runs_in(const std::string& root, const std::string& program, const std::string& role) {
    auto root_fd = open_path(root, O_RDONLY | O_DIRECTORY);
    if (!root_fd) return root_fd.error();
    Checker checker{root_fd->get(), root, {}, {}, {}, {}};
    return checker.check(program, role, 0);
}

Result<std::vector<std::string>> program_files_in(const std::string& root, const std::string& program) {
    auto root_fd = open_path(root, O_RDONLY | O_DIRECTORY);
    if (!root_fd) return root_fd.error();
    Checker checker{root_fd->get(), root, {}, {}, {}, {}};
    if (auto s = checker.check(program, "the program", 0); !s) return s.error();
    return checker.files;
}

}  // namespace offroot
