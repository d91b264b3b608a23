// offroot-init: the PID 1 stub; see init_stub.hpp.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "init_stub.hpp"

int main() {
    if (::getpid() != 1) {
        std::cerr << "offroot-init: must run as PID 1; `offroot enter` starts it through the init system's re-exec\n";
        return 2;
    }
    offroot::InitStubOptions options;
    if (const char* p = std::getenv("OFFROOT_CMDLINE")) options.cmdline_path = p;
    offroot::run_init_stub(options);
}
