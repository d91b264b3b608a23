// run-init for initramfs-tools: see run_init.hpp.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "log.hpp"
#include "run_init.hpp"

int main(int argc, char** argv) {
    using namespace offroot;
    std::vector<std::string> args(argv + 1, argv + argc);
    auto options = parse_run_init_args(args);
    if (!options) {
        std::cerr << "run-init: " << options.error().message() << "\n";
        return 1;
    }
    // Test seams: the namespace tests have no kernel command line or
    // manifest of their own at the fixed paths.
    if (const char* p = std::getenv("OFFROOT_CMDLINE")) options->cmdline_path = p;
    if (const char* p = std::getenv("OFFROOT_MANIFEST")) options->manifest_path = p;

    if (options->dry_run) {
        // initramfs-tools' validate_init calls "run-init -n" for each
        // candidate init: quiet on success, one line when not.
        auto s = validate_switch(*options);
        if (!s) {
            std::cerr << "run-init: " << s.error().message() << "\n";
            return 1;
        }
        return 0;
    }
    configure_log(LogSinks{.to_stderr = true, .to_kmsg = true, .ram_log = {}, .tag = "offroot run-init"});
    Error e = run_init(*options);
    log_error(e.message());
    return 1;
}
