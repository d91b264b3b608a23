// run-init for initramfs-tools: see run_init.hpp.
// No iostreams: they would pull the C++ locale machinery into the image.
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "transitions/run_init.hpp"

namespace {

void say(const std::string& line) {
    const std::string text = "run-init: " + line + "\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
}

}  // namespace

int main(int argc, char** argv) {
    using namespace offroot;
    std::vector<std::string> args(argv + 1, argv + argc);
    auto options = parse_run_init_args(args);
    if (!options) {
        say(options.error().message());
        return 1;
    }
    // Test seams: the namespace tests have no kernel command line or
    // manifest of their own at the fixed paths.
    if (const char* p = std::getenv("OFFROOT_CMDLINE")) options->cmdline_path = p;
    if (const char* p = std::getenv("OFFROOT_MANIFEST")) options->manifest_path = p;
    if (const char* p = std::getenv("OFFROOT_ROOT_SWITCH")) options->root_switch_path = p;

    if (options->dry_run) {
        // initramfs-tools' validate_init calls "run-init -n" for each
        // candidate init: quiet on success, one line when not.
        auto s = validate_switch(*options);
        if (!s) {
            say(s.error().message());
            return 1;
        }
        return 0;
    }
    configure_log(LogSinks{.to_stderr = true, .to_kmsg = true, .ram_log = {}, .tag = "offroot run-init"});
    Error e = run_init(*options);
    log_error(e.message());
    return 1;
}
