// What the kernel and the dynamic loader need to start a program: the ELF
// interpreter and the shared libraries it names, or a script's "#!" line.
// `offroot return` asks before it hands PID 1 to an init in a root that may
// be a fresh copy: an init that cannot start leaves PID 1 with nothing to
// run.
#pragma once

#include <string>
#include <vector>

#include "base/fd.hpp"
#include "base/result.hpp"

namespace offroot {

struct ProgramNeeds {
    bool script = false;                // "#!" first line
    std::string interpreter;            // PT_INTERP, or the script's interpreter
    std::vector<std::string> needed;    // DT_NEEDED
    std::vector<std::string> runpath;   // DT_RUNPATH, else DT_RPATH, ':'-split
    std::string multiarch;              // "x86_64-linux-gnu", from e_machine
};

// Reads what a program file needs: an ELF (32 or 64 bit, this machine's
// byte order) or a script. A static ELF has no interpreter and no needed
// libraries.
Result<ProgramNeeds> read_program_needs(int fd, const std::string& what);

// Opens `path` inside the root `root_fd` with every symlink resolved inside
// it (openat2 RESOLVE_IN_ROOT): absolute links in a mounted root lead into
// that root, not ours.
Result<UniqueFd> open_in_root(int root_fd, const std::string& path, int flags);

// Whether `program` can be started in `root`: exists, is a regular file with
// an execute bit, and its interpreter and every library it needs (and they
// need) are found in that root. The error names what is missing.
// `role` names the program in the message ("the init").
Status check_program_runs_in(const std::string& root, const std::string& program, const std::string& role);

// What the loader maps to start `program` in `root`, as check_program_runs_in
// finds it: the ELF interpreter and every library, transitively, or a
// script's interpreter and what that needs. Paths inside `root`.
Result<std::vector<std::string>> program_files_in(const std::string& root, const std::string& program);

}  // namespace offroot
