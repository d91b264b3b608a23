#include "catch.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "base/files.hpp"
#include "kernel/elf.hpp"
#include "test_support.hpp"

using namespace offroot;
namespace fs = std::filesystem;

namespace {

void copy_exec(const std::string& from, const std::string& to) {
    fs::create_directories(fs::path(to).parent_path());
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    ::chmod(to.c_str(), 0755);
}

}  // namespace

TEST_CASE("the loader's needs of a real program: interpreter and libraries", "[elf]") {
    auto fd = open_path("/bin/sh", O_RDONLY);
    REQUIRE(fd);
    auto needs = read_program_needs(fd->get(), "/bin/sh");
    REQUIRE(needs);
    CHECK_FALSE(needs->script);
    CHECK(needs->interpreter.find("ld-linux") != std::string::npos);
    CHECK(std::find(needs->needed.begin(), needs->needed.end(), "libc.so.6") != needs->needed.end());
    CHECK_FALSE(needs->multiarch.empty());
}

TEST_CASE("an init that can run in this root: /bin/sh and its libraries", "[elf]") {
    CHECK(check_program_runs_in("/", "/bin/sh", "the init"));
}

TEST_CASE("an init that cannot run: missing, not executable, libraries or interpreter absent", "[elf]") {
    test::TempDir root("offroot-elf");
    const std::string r = root.path();
    auto missing = check_program_runs_in(r, "/sbin/init", "the init");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message().find("/sbin/init") != std::string::npos);

    // The binary alone, as in a root copied without /usr/lib.
    copy_exec("/bin/sh", r + "/sbin/init");
    auto no_loader = check_program_runs_in(r, "/sbin/init", "the init");
    REQUIRE_FALSE(no_loader);
    CHECK(no_loader.error().message().find("ELF interpreter") != std::string::npos);

    // The loader there too, through the usual absolute symlink: resolved in
    // that root, and the libc is what is missing now.
    auto fd = open_path("/bin/sh", O_RDONLY);
    REQUIRE(fd);
    auto needs = read_program_needs(fd->get(), "/bin/sh");
    REQUIRE(needs);
    copy_exec(fs::canonical(needs->interpreter).string(), r + "/usr/lib/loader");
    fs::create_directories(r + fs::path(needs->interpreter).parent_path().string());
    fs::create_symlink("/usr/lib/loader", r + needs->interpreter);
    auto no_libc = check_program_runs_in(r, "/sbin/init", "the init");
    REQUIRE_FALSE(no_libc);
    CHECK(no_libc.error().message().find("libc.so.6") != std::string::npos);

    ::chmod((r + "/sbin/init").c_str(), 0644);
    auto not_exec = check_program_runs_in(r, "/sbin/init", "the init");
    REQUIRE_FALSE(not_exec);
    CHECK(not_exec.error().message().find("not executable") != std::string::npos);
}

TEST_CASE("a script init needs its interpreter in that root", "[elf]") {
    test::TempDir root("offroot-elf-script");
    const std::string r = root.path();
    fs::create_directories(r + "/sbin");
    std::ofstream(r + "/sbin/init") << "#!/bin/busybox sh\nexec /bin/sh\n";
    ::chmod((r + "/sbin/init").c_str(), 0755);
    auto s = check_program_runs_in(r, "/sbin/init", "the init");
    REQUIRE_FALSE(s);
    CHECK(s.error().message().find("/bin/busybox") != std::string::npos);
}

TEST_CASE("a program's RUNPATH, every entry (systemd finds its private libraries so)", "[elf]") {
    auto fd = open_path(OFFROOT_RUNPATH_SAMPLE, O_RDONLY);
    REQUIRE(fd);
    auto needs = read_program_needs(fd->get(), OFFROOT_RUNPATH_SAMPLE);
    REQUIRE(needs);
    CHECK(needs->runpath ==
          std::vector<std::string>{"/opt/offroot-runpath-sample/lib", "/usr/lib/offroot-second-entry"});
    CHECK(std::find(needs->needed.begin(), needs->needed.end(), "libc.so.6") != needs->needed.end());
}

TEST_CASE("a library that needs another the program's RUNPATH found: satisfied, as the loader does it", "[elf]") {
    // The sample runs, so the loader agrees.
    auto ran = ::system(OFFROOT_CHAIN_SAMPLE);
    REQUIRE(ran == 0);
    CHECK(check_program_runs_in("/", OFFROOT_CHAIN_SAMPLE, "the init"));
}
